"""Image data sets: scikit-learn digits, torchvision CIFAR-10, MNIST / Fashion-MNIST (their IDX
files read from a folder or an archive, :mod:`lipbench.data.idx`, or through torchvision), and
the helpers and caches they share with any image folder or .tar(.gz) of one
(:mod:`lipbench.data.imagefolder`).

Every builder returns an :class:`~lipbench.data.base.ImageSource` holding uint8
N x C x H x W tensors at ``data.resolution`` and ``data.channels``, with a train and a
test split, labels and a ``key`` such as ``digits-16px-1ch`` that names the caches
(domain classifier, reference statistics). Caches live under ``$LIPBENCH_CACHE``
(default ``~/.cache/lipbench``); downloaded data sets under ``data.root``, else
``$LIPBENCH_DATA``, else ``~/.cache/lipbench/datasets``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from lipbench.data import DATASETS, archive, idx
from lipbench.data.base import ImageSource
from lipbench.errors import DataError, require

FORMAT_VERSION = 1  # bump when decoding changes, to invalidate cached tensors


def cache_root() -> str:
    """lipbench's cache folder: ``$LIPBENCH_CACHE`` or ``~/.cache/lipbench``."""
    return os.environ.get("LIPBENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "lipbench")


def data_root(cfg) -> str:
    root = _get(cfg, "root", None)
    if root:
        return os.path.expanduser(str(root))
    return os.environ.get("LIPBENCH_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "lipbench", "datasets")


def _get(cfg, key, default):
    try:
        value = cfg.get(key, default)
    except AttributeError:
        value = getattr(cfg, key, default)
    return default if value is None else value


def _shape(cfg, default_res, default_ch):
    return int(_get(cfg, "resolution", default_res)), int(_get(cfg, "channels", default_ch))


def _max_images(cfg):
    m = _get(cfg, "max_images", None)
    return None if m is None else int(m)


def check_image_keys(schema) -> None:
    """The ranges of an image data set's keys (its schema's ``__post_init__``)."""
    require(schema.resolution, "data.resolution", at_least=4, why="e.g. 16, 32, 48, 64")
    require(schema.channels, "data.channels", schema.channels in (1, 3), "allowed 1 (grayscale) or 3 (RGB)")
    if getattr(schema, "max_images", None) is not None:
        require(schema.max_images, "data.max_images", schema.max_images >= 1, "must be >= 1 or null (all)")


def resize_uint8(images: torch.Tensor, resolution: int, channels: int, chunk: int = 4096) -> torch.Tensor:
    """Convert uint8 N x C x H x W images to ``channels`` (luma for RGB->L, replication
    for L->RGB) and resize them to ``resolution`` with antialiased bilinear filtering."""
    out = []
    for x in images.split(chunk):
        x = x.float()
        if x.shape[1] == 3 and channels == 1:
            x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        elif x.shape[1] == 1 and channels == 3:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != resolution or x.shape[-2] != resolution:
            x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)
        out.append(x.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out) if out else images.new_zeros((0, channels, resolution, resolution))


def _cap(images, labels, max_images, seed=0):
    if max_images is None or len(images) <= max_images:
        return images, labels
    idx = torch.from_numpy(np.sort(np.random.RandomState(seed).permutation(len(images))[:max_images]))
    return images[idx], labels[idx]


def _key(name, res, ch, max_images=None, extra=""):
    key = f"{name}{extra}-{res}px-{ch}ch"
    return key + (f"-max{max_images}" if max_images is not None else "")


@dataclass
class DigitsConfig:
    """``data=digits``: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes; no
    download), resized to ``resolution`` with antialiased bilinear filtering.
    Deterministic stratified 80/20 split."""

    name: str = "digits"
    resolution: int = 16
    channels: int = 1

    def __post_init__(self):
        check_image_keys(self)


@dataclass
class TorchvisionConfig:
    """``data=cifar10`` (50,000 train / 10,000 test, 10 classes) via torchvision, and the
    keys of every torchvision data set. Read from ``root``; downloaded there when missing
    and ``download`` is true (needs internet)."""

    name: str = "cifar10"
    resolution: int = 32
    channels: int = 3
    root: Optional[str] = None  # null = $LIPBENCH_DATA or ~/.cache/lipbench/datasets
    download: bool = True
    max_images: Optional[int] = None  # at most this many images per split (fixed-seed subset; null = all)

    def __post_init__(self):
        check_image_keys(self)


@dataclass
class MNISTConfig(TorchvisionConfig):
    """``data=mnist``: MNIST (60,000 / 10,000, 10 classes), 28 px resized to ``resolution``.
    ``root`` may be a folder holding ``MNIST/raw/*-idx?-ubyte`` (torchvision's layout) or a
    .tar / .tar.gz of it, read directly; downloaded by torchvision only when they are missing."""

    name: str = "mnist"
    channels: int = 1


@dataclass
class FashionMNISTConfig(TorchvisionConfig):
    """``data=fashion_mnist``: Fashion-MNIST (60,000 / 10,000, 10 classes), 28 px resized to ``resolution``."""

    name: str = "fashion_mnist"
    channels: int = 1


@DATASETS.register("digits", schema=DigitsConfig)
def build_digits(cfg) -> ImageSource:
    """scikit-learn's 8x8 digits (1,797 images, 10 classes), values 0..16 -> 0..255,
    resized to ``resolution`` (default 16) and split 80/20 (stratified, fixed seed)."""
    from sklearn.datasets import load_digits

    res, ch = _shape(cfg, 16, 1)
    d = load_digits()
    x = torch.from_numpy(np.round(d.images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
    y = torch.from_numpy(d.target.astype(np.int64))
    labels = {i: str(int(t)) for i, t in enumerate(d.target)}
    train, test = archive.holdout_split(labels, 0.2, seed=0)
    tr = torch.tensor(sorted(train), dtype=torch.int64)
    te = torch.tensor(sorted(test), dtype=torch.int64)
    x = resize_uint8(x, res, ch)
    return ImageSource(
        name="digits",
        key=_key("digits", res, ch),
        train_images=x[tr],
        train_labels=y[tr],
        test_images=x[te],
        test_labels=y[te],
        num_classes=10,
    )


def _torchvision(cfg, name, cls_name, default_res, default_ch, idx_files=False):
    """``idx_files``: the data set is MNIST-like; its IDX files are read directly from a folder
    or an archive at ``data.root`` when they are there (:mod:`lipbench.data.idx`), and
    torchvision (with its download) is used only when they are not."""
    res, ch = _shape(cfg, default_res, default_ch)
    root = data_root(cfg)
    found = idx.find(root, cls_name) if idx_files else None
    raw = idx.load(found, root) if found is not None else _torchvision_splits(cfg, name, cls_name, root)
    splits = []
    for x, y in raw:
        x = torch.from_numpy(np.asarray(x)) if not torch.is_tensor(x) else x
        x = x.permute(0, 3, 1, 2) if x.dim() == 4 else x.unsqueeze(1)
        y = torch.as_tensor(np.asarray(y), dtype=torch.int64)
        x, y = _cap(x, y, _max_images(cfg))
        splits.append((resize_uint8(x.contiguous(), res, ch), y))
    (xtr, ytr), (xte, yte) = splits
    return ImageSource(
        name=name,
        key=_key(name, res, ch, _max_images(cfg)),
        train_images=xtr,
        train_labels=ytr,
        test_images=xte,
        test_labels=yte,
        num_classes=10,
    )


def _torchvision_splits(cfg, name, cls_name, root):
    """``[(train images, labels), (test images, labels)]`` through torchvision: read from
    ``root``, downloaded there first when missing and ``data.download`` is true."""
    import torchvision

    download = bool(_get(cfg, "download", True))
    cls = getattr(torchvision.datasets, cls_name)
    splits = []
    for train in (True, False):
        try:
            ds = cls(root=root, train=train, download=download)
        except Exception as e:  # noqa: BLE001 - offline, missing or corrupt: one clear line
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise DataError(
                f"data={name}: not found under data.root={root} and not downloadable ({reason}); "
                f"set data.root=/path/to/an/existing/copy, or allow data.download=true with internet access"
            ) from None
        splits.append((ds.data, ds.targets))
    return splits


@DATASETS.register("cifar10", schema=TorchvisionConfig)
def build_cifar10(cfg) -> ImageSource:
    """CIFAR-10 through torchvision (download when online, or ``data.root``)."""
    return _torchvision(cfg, "cifar10", "CIFAR10", 32, 3)


@DATASETS.register("mnist", schema=MNISTConfig)
def build_mnist(cfg) -> ImageSource:
    """MNIST from its IDX files (a folder or an archive at ``data.root``), else through
    torchvision (with its download), resized to ``resolution`` (default 32)."""
    return _torchvision(cfg, "mnist", "MNIST", 32, 1, idx_files=True)


@DATASETS.register("fashion_mnist", schema=FashionMNISTConfig)
def build_fashion_mnist(cfg) -> ImageSource:
    """Fashion-MNIST from its IDX files (``FashionMNIST/raw``, a folder or an archive at
    ``data.root``), else through torchvision, resized to ``resolution`` (default 32)."""
    return _torchvision(cfg, "fashion_mnist", "FashionMNIST", 32, 1, idx_files=True)
