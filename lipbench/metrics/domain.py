"""A domain feature extractor for torch-fidelity that works offline.

A small CNN classifier is trained, deterministically, on the data set's own labelled
train split at its resolution and channels. It is cached at
``$LIPBENCH_CACHE/classifiers/<data.key>.pt`` together with its held-out (test split)
accuracy, so that every run of a sweep and the report reuse one classifier. The file is
written under a file lock, through a temporary file and an atomic rename.

:func:`register_domain_extractor` registers it with torch-fidelity under the name
``lipbench-domain-<data.key>``; FID/KID/PRC then use its ``penultimate`` features and ISC
its ``logits_unbiased`` (the logits without the final bias, as for Inception).
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
from dataclasses import dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

RECIPE_VERSION = 1  # bump when the architecture or training recipe changes
SEED = 0
BATCH_SIZE = 128
WIDTH = 16  # 64 penultimate features; small enough to train on 2 CPU cores
EPOCHS = 15
MIN_STEPS, MAX_STEPS = 200, 1500
LR = 2e-3

_LOADED: Dict[str, nn.Module] = {}  # extractor name -> classifier, read by the extractor class


class DomainClassifier(nn.Module):
    """A conv3 layer, stride-2 conv4 layers (doubling the channels up to ``4 * width``)
    down to at most 4x4, a conv3 to ``4 * width`` features, global average pooling (the ``penultimate``
    features) and a linear head.

    Takes float images in [-1, 1]; returns ``(penultimate, logits)``.
    """

    def __init__(self, channels: int, resolution: int, num_classes: int, width: int = 32):
        super().__init__()
        self.channels, self.resolution, self.num_classes, self.width = channels, resolution, num_classes, width
        layers, c_in, c, size = [], channels, width, resolution
        layers += [nn.Conv2d(c_in, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
        c_in = c
        while size > 4 and size % 2 == 0:
            c = min(2 * c, 4 * width)
            layers += [nn.Conv2d(c_in, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
            c_in, size = c, size // 2
        layers += [nn.Conv2d(c_in, 4 * width, 3, 1, 1, bias=False), nn.BatchNorm2d(4 * width), nn.ReLU(True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x):
        h = self.features(x).mean(dim=(2, 3))
        return h, self.head(h)

    def arch(self) -> dict:
        return dict(channels=self.channels, resolution=self.resolution, num_classes=self.num_classes, width=self.width)


def _to_float(images_uint8: torch.Tensor) -> torch.Tensor:
    return images_uint8.float().div_(127.5).sub_(1.0)


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device="cpu", batch_size=500) -> float:
    """Top-1 accuracy of ``model`` (in eval mode) on uint8 ``images``."""
    was_training = model.training
    model.eval()
    correct = 0
    for x, y in zip(images.split(batch_size), labels.split(batch_size)):
        correct += (model(_to_float(x).to(device))[1].argmax(1).cpu() == y).sum().item()
    model.train(was_training)
    return correct / max(1, len(images))


def train_classifier(data, device="cpu", verbose: bool = False):
    """Train a :class:`DomainClassifier` on ``data``'s train split.

    Deterministic for a given machine: the weights are initialised under a fixed seed
    (without touching the caller's global RNG state) and batches are drawn with a
    fixed-seed ``torch.Generator``. Returns ``(model in eval mode on the CPU, held-out accuracy)``.
    """
    device = torch.device(device)
    x, y = data.train_images, data.train_labels
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = DomainClassifier(x.shape[1], x.shape[2], max(int(data.num_classes), 1), width=WIDTH)
    model.to(device).train()
    steps_per_epoch = math.ceil(len(x) / BATCH_SIZE)
    steps = int(min(MAX_STEPS, max(MIN_STEPS, EPOCHS * steps_per_epoch)))
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(SEED)
    order, pos = torch.randperm(len(x), generator=gen), 0
    from tqdm.auto import tqdm

    for _ in tqdm(range(steps), desc=f"training domain classifier ({data.key})", disable=not verbose, leave=False):
        if pos + BATCH_SIZE > len(order):
            order, pos = torch.randperm(len(x), generator=gen), 0
        idx = order[pos : pos + BATCH_SIZE]
        pos += BATCH_SIZE
        xb = _to_float(x[idx])
        # light augmentation: random shifts by up to 1/8 of the image (reflect padding)
        pad = max(1, xb.shape[-1] // 8)
        xb = F.pad(xb, (pad,) * 4, mode="reflect")
        shifts = torch.randint(0, 2 * pad + 1, (len(idx), 2), generator=gen).tolist()
        xb = torch.stack([xb[i, :, dy : dy + x.shape[2], dx : dx + x.shape[3]] for i, (dy, dx) in enumerate(shifts)])
        loss = F.cross_entropy(model(xb.to(device))[1], y[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.cpu().eval().requires_grad_(False)
    if data.test_images is not None and len(data.test_images):
        acc = accuracy(model, data.test_images, data.test_labels)
    else:  # no held-out split: report training accuracy rather than nothing
        acc = accuracy(model, x, y)
    return model, acc


def _fingerprint(state_dict) -> str:
    h = hashlib.sha1()
    for k in sorted(state_dict):
        h.update(k.encode())
        h.update(state_dict[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


@dataclass
class DomainClassifierInfo:
    model: nn.Module
    accuracy: float
    fingerprint: str
    path: str


def classifier_path(key: str, cache_root: Optional[str] = None) -> str:
    from lipbench.data.images import cache_root as default_root

    return os.path.join(cache_root or default_root(), "classifiers", f"{key}.pt")


def load_or_train(data, cache_root: Optional[str] = None, device="cpu", verbose=False) -> DomainClassifierInfo:
    """The cached classifier for ``data.key``, trained and cached first if missing
    (or made by an older recipe). Safe when several runs of a sweep start together."""
    from filelock import FileLock

    path = classifier_path(data.key, cache_root)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with FileLock(path + ".lock"):
        blob = None
        if os.path.exists(path):
            try:
                blob = torch.load(path, map_location="cpu", weights_only=True)
                if blob.get("version") != RECIPE_VERSION or blob.get("key") != data.key:
                    blob = None
            except Exception:  # noqa: BLE001 - unreadable cache: retrain
                blob = None
        if blob is None:
            model, acc = train_classifier(data, device=device, verbose=verbose)
            state = model.state_dict()
            blob = dict(
                version=RECIPE_VERSION,
                key=data.key,
                arch=model.arch(),
                state_dict=state,
                test_accuracy=float(acc),
                fingerprint=_fingerprint(state),
            )
            tmp = f"{path}.{os.getpid()}.tmp"
            torch.save(blob, tmp)
            os.replace(tmp, path)
    with torch.random.fork_rng(devices=[]):  # initialisation must not consume the caller's RNG
        model = DomainClassifier(**blob["arch"])
    model.load_state_dict(blob["state_dict"])
    model.eval().requires_grad_(False)
    return DomainClassifierInfo(model, float(blob["test_accuracy"]), str(blob["fingerprint"]), path)


def extractor_name(key: str) -> str:
    return f"lipbench-domain-{key}"


def register_domain_extractor(data, cache_root: Optional[str] = None, device="cpu", verbose=False):
    """Make sure the classifier for ``data`` exists and torch-fidelity knows it.

    Returns ``(extractor name, DomainClassifierInfo)``. Idempotent.
    """
    info = load_or_train(data, cache_root=cache_root, device=device, verbose=verbose)
    name = extractor_name(data.key)
    _LOADED[name] = info.model
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name, DomainFeatureExtractor)
    return name, info


class DomainFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity wrapper of a :class:`DomainClassifier` registered under ``name``.

    ``forward`` takes uint8 B x 3 x H x W (torch-fidelity always feeds 3 channels),
    converts to the classifier's channels and resolution, and returns the requested
    features in ``features_list`` order.
    """

    def __init__(self, name, features_list, **kwargs):  # kwargs: torch-fidelity's options
        super().__init__(name, features_list)
        if name not in _LOADED:
            raise ValueError(f"{name}: call lipbench.metrics.domain.register_domain_extractor(data) first")
        self.classifier = copy.deepcopy(_LOADED[name])
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def get_provided_features_list():
        return "penultimate", "logits_unbiased", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits_unbiased", "fid": "penultimate", "kid": "penultimate", "prc": "penultimate"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 16, 16, dtype=torch.uint8)

    def forward(self, x):
        if not (torch.is_tensor(x) and x.dtype == torch.uint8 and x.dim() == 4):
            raise ValueError(f"expected a uint8 B x C x H x W tensor, got {getattr(x, 'shape', type(x))}")
        clf = self.classifier
        h = _to_float(x)
        if clf.channels == 1 and h.shape[1] != 1:
            h = h.mean(dim=1, keepdim=True)
        elif clf.channels == 3 and h.shape[1] == 1:
            h = h.expand(-1, 3, -1, -1)
        if h.shape[-2:] != (clf.resolution, clf.resolution):
            h = F.interpolate(
                h, size=(clf.resolution, clf.resolution), mode="bilinear", antialias=True, align_corners=False
            )
        penultimate, logits = clf(h)
        feats = {
            "penultimate": penultimate,
            "logits_unbiased": penultimate @ clf.head.weight.t(),
            "logits": logits,
        }
        return tuple(feats[f].float() for f in self.features_list)
