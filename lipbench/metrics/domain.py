"""A domain feature extractor for torch-fidelity that works offline.

A small CNN classifier is trained, deterministically, on the data set's own labelled
train split at its resolution and channels. It is cached at
``$LIPBENCH_CACHE/classifiers/<data.key>.pt`` together with its held-out (test split)
accuracy, so that every run of a sweep and the report reuse one classifier. The file is
written under a file lock (the other runs of a sweep wait for it), through a temporary file
and an atomic rename. Training it is a long step on first use (minutes on CPU for 60,000
images): it logs what it trains and where it caches it, shows a progress bar when the run
does, and stops within one step on SIGTERM / SIGINT (:mod:`lipbench.metrics.first_use`).

:func:`register_domain_extractor` registers it with torch-fidelity under the name
``lipbench-domain-<data.key>``; FID/KID/PRC then use its ``penultimate`` features and ISC
its ``logits_unbiased`` (the logits without the final bias, as for Inception).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from dataclasses import dataclass
from typing import Optional, Set

import torch
import torch.nn.functional as F
from torch import nn

from lipbench.metrics.domain_extractor import LOADED, extractor_class, to_float
from lipbench.metrics.first_use import LongStep, atomic_save, build_once

__all__ = [
    "DomainClassifier",
    "load_or_train",
    "register_domain_extractor",
    "train_classifier",
]

RECIPE_VERSION = 1  # bump when the architecture or training recipe changes
SEED = 0
BATCH_SIZE = 128
WIDTH = 16  # 64 penultimate features; small enough to train on 2 CPU cores
EPOCHS = 15
MIN_STEPS, MAX_STEPS = 200, 1500
LR = 2e-3

_ANNOUNCED: Set[str] = set()  # cache files whose accuracy this process has logged
log = logging.getLogger("lipbench")


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


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, device="cpu", batch_size=500) -> float:
    """Top-1 accuracy of ``model`` (in eval mode) on uint8 ``images``."""
    was_training = model.training
    model.eval()
    correct = 0
    for x, y in zip(images.split(batch_size), labels.split(batch_size)):
        correct += (model(to_float(x).to(device))[1].argmax(1).cpu() == y).sum().item()
    model.train(was_training)
    return correct / max(1, len(images))


def train_classifier(data, *, device="cpu", verbose: bool = False, path: str = ""):
    """Train a :class:`DomainClassifier` on ``data``'s train split.

    Deterministic for a given machine: the weights are initialised under a fixed seed
    (without touching the caller's global RNG state) and batches are drawn with a
    fixed-seed ``torch.Generator``. A long step (:class:`~lipbench.metrics.first_use.LongStep`):
    a progress bar when ``verbose``, log lines, and a stop signal ends it within one step.
    Returns ``(model in eval mode on the CPU, held-out accuracy)``.
    """
    device = torch.device(device)
    x, y = data.train_images, data.train_labels
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = DomainClassifier(x.shape[1], x.shape[2], max(int(data.num_classes), 1), width=WIDTH)
    model.to(device).train()
    steps = int(min(MAX_STEPS, max(MIN_STEPS, EPOCHS * math.ceil(len(x) / BATCH_SIZE))))
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(SEED)
    order, pos = torch.randperm(len(x), generator=gen), 0
    what = f"training the domain classifier for {data.key}"
    log.info(
        "%s on its %d training images (%d steps of %d; first use only, then cached at %s)",
        what,
        len(x),
        steps,
        BATCH_SIZE,
        path or "no cache",
    )
    with LongStep(what, steps, verbose, cleanup="nothing was cached; the next run trains it again") as step:
        for i in step.steps():
            if pos + BATCH_SIZE > len(order):
                order, pos = torch.randperm(len(x), generator=gen), 0
            idx = order[pos : pos + BATCH_SIZE]
            pos += BATCH_SIZE
            loss = _step(model, opt, sched, _augment(to_float(x[idx]), gen).to(device), y[idx].to(device))
            if i % 25 == 0:
                step.set_postfix(loss=f"{loss:.3g}")
    model.cpu().eval().requires_grad_(False)
    held_out = data.test_images is not None and len(data.test_images) > 0
    acc = accuracy(model, data.test_images, data.test_labels) if held_out else accuracy(model, x, y)
    log.info(
        "domain classifier for %s: %s accuracy %.2f%% on %d images, trained in %.0f s",
        data.key,
        "held-out" if held_out else "training (no held-out split)",
        100 * acc,
        len(data.test_images) if held_out else len(x),
        step.elapsed(),
    )
    return model, acc


def _augment(xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Light augmentation: random shifts by up to 1/8 of the image (reflect padding)."""
    size = xb.shape[-1]
    pad = max(1, size // 8)
    padded = F.pad(xb, (pad,) * 4, mode="reflect")
    shifts = torch.randint(0, 2 * pad + 1, (len(xb), 2), generator=gen).tolist()
    return torch.stack([padded[i, :, dy : dy + xb.shape[2], dx : dx + size] for i, (dy, dx) in enumerate(shifts)])


def _step(model, opt, sched, xb, yb) -> float:
    """One optimizer step on a batch; returns the loss."""
    loss = F.cross_entropy(model(xb)[1], yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return float(loss.detach())


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


def load_or_train(data, *, cache_root: Optional[str] = None, device="cpu", verbose=False) -> DomainClassifierInfo:
    """The cached classifier for ``data.key``, trained and cached first if missing
    (or made by an older recipe). When several runs of a sweep start together, one trains
    it and the others wait for it (:func:`~lipbench.metrics.first_use.build_once`)."""
    path = classifier_path(data.key, cache_root)

    def train_and_save():
        model, acc = train_classifier(data, device=device, verbose=verbose, path=path)
        state = model.state_dict()
        blob = dict(
            version=RECIPE_VERSION,
            key=data.key,
            arch=model.arch(),
            state_dict=state,
            test_accuracy=float(acc),
            fingerprint=_fingerprint(state),
        )
        atomic_save(lambda tmp: torch.save(blob, tmp), path)
        _ANNOUNCED.add(path)
        log.info("domain classifier for %s cached at %s", data.key, path)
        return blob

    blob = build_once(
        path, lambda: _load(path, data.key), train_and_save, what=f"training the domain classifier for {data.key}"
    )
    if path not in _ANNOUNCED:
        _ANNOUNCED.add(path)
        log.info(
            "domain classifier for %s: accuracy %.2f%%, loaded from %s", data.key, 100 * blob["test_accuracy"], path
        )
    with torch.random.fork_rng(devices=[]):  # initialisation must not consume the caller's RNG
        model = DomainClassifier(**blob["arch"])
    model.load_state_dict(blob["state_dict"])
    model.eval().requires_grad_(False)
    return DomainClassifierInfo(model, float(blob["test_accuracy"]), str(blob["fingerprint"]), path)


def _load(path: str, key: str) -> Optional[dict]:
    """The cached blob, or None when missing, unreadable or made by another recipe."""
    if not os.path.exists(path):
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - unreadable cache: retrain
        return None
    return blob if blob.get("version") == RECIPE_VERSION and blob.get("key") == key else None


def extractor_name(key: str) -> str:
    return f"lipbench-domain-{key}"


def register_domain_extractor(data, *, cache_root: Optional[str] = None, device="cpu", verbose=False):
    """Make sure the classifier for ``data`` exists and torch-fidelity knows it.

    Returns ``(extractor name, DomainClassifierInfo)``. Idempotent.
    """
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    info = load_or_train(data, cache_root=cache_root, device=device, verbose=verbose)
    name = extractor_name(data.key)
    LOADED[name] = info.model
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name, extractor_class())
    return name, info
