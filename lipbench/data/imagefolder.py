"""The ``imagefolder`` data set: any folder of images, or a .tar(.gz) of one, decoded into an
:class:`~lipbench.data.base.ImageSource` (the shared helpers and caches are those of
:mod:`lipbench.data.images`). The decoded tensors are cached under
``$LIPBENCH_CACHE/images``, keyed by the root's fingerprint and the settings.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Optional

import torch

from lipbench.data import DATASETS, archive
from lipbench.data.base import ImageSource
from lipbench.data.images import FORMAT_VERSION, _get, _key, _max_images, _shape, cache_root, check_image_keys
from lipbench.errors import ConfigError, DataError, require


@dataclass
class ImageFolderConfig:
    """``data=imagefolder``: any folder of class sub-folders (ImageFolder layout) or of flat
    images (one class), or a .tar / .tar.gz of either, read directly (e.g.
    data.root=../shared/data/cifar10-jpeg.tar.gz). Images are centre-cropped to a square,
    converted to ``channels`` and resized to ``resolution``."""

    name: str = "imagefolder"
    root: Optional[str] = None  # required: a folder or a .tar / .tar.gz
    resolution: int = 32
    channels: int = 3
    # split folders used when both exist under root; otherwise test_fraction of each class is held out
    train_split: str = "train"
    test_split: str = "test"
    test_fraction: float = 0.1
    max_images: Optional[int] = None  # at most this many images per split (fixed-seed subset; null = all)
    cache: bool = True  # keep the decoded tensors in $LIPBENCH_CACHE/images (keyed by path, size, mtime, settings)

    def __post_init__(self):
        check_image_keys(self)
        require(self.test_fraction, "data.test_fraction", 0 <= self.test_fraction < 1, "must be in [0, 1)")


@DATASETS.register("imagefolder", schema=ImageFolderConfig)
def build_imagefolder(cfg) -> ImageSource:
    """A folder of class sub-folders or of flat images, or a .tar/.tar.gz of either.

    Keys: ``root`` (required), ``resolution`` (32), ``channels`` (3), ``train_split`` /
    ``test_split`` (folder names, ``train`` / ``test``), ``test_fraction`` (held out when
    there are no split folders, 0.1), ``max_images`` (per split, null = all), ``cache``
    (keep the decoded tensors under ``$LIPBENCH_CACHE/images``, true).
    """
    root = _get(cfg, "root", None)
    if not root:
        raise ConfigError("data.root=null: data=imagefolder needs data.root=/path/to/folder or archive.tar.gz")
    root = os.path.abspath(os.path.expanduser(str(root)))
    res, ch = _shape(cfg, 32, 3)
    train_split = str(_get(cfg, "train_split", "train"))
    test_split = str(_get(cfg, "test_split", "test"))
    fraction = float(_get(cfg, "test_fraction", 0.1))
    max_images = _max_images(cfg)
    if not os.path.exists(root):
        raise DataError(f"data.root={root}: no such file or folder")

    settings = f"v{FORMAT_VERSION}|{res}|{ch}|{train_split}|{test_split}|{fraction}|{max_images}"
    digest = hashlib.sha1((archive.fingerprint(root) + "\n" + settings).encode()).hexdigest()[:10]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", re.sub(r"(\.tar\.gz|\.tgz|\.tar)$", "", os.path.basename(root)))
    key = _key("imagefolder", res, ch, max_images, extra=f"-{stem}-{digest}")
    use_cache = bool(_get(cfg, "cache", True))
    path = os.path.join(cache_root(), "images", key + ".pt")
    if use_cache and os.path.exists(path):
        try:
            blob = torch.load(path, weights_only=True)
            return _imagefolder_source(key, blob)
        except Exception:  # noqa: BLE001 - a broken cache is rebuilt
            pass

    blob = _load_imagefolder(root, res, ch, train_split, test_split, fraction, max_images)
    if use_cache:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        torch.save(blob, tmp)
        os.replace(tmp, path)
    return _imagefolder_source(key, blob)


def _load_imagefolder(root, res, ch, train_split, test_split, fraction, max_images):
    files = archive.list_files(root)
    if not files:
        raise DataError(f"data.root={root}: no images found (extensions {', '.join(archive.IMAGE_EXTENSIONS)})")
    train, test = archive.split_layout(files, train_split, test_split)
    if test is None:
        train, test = archive.holdout_split(train, fraction, seed=0)
    train, test = archive.subsample(train, max_images), archive.subsample(test, max_images)
    classes = sorted(set(train.values()) | set(test.values()))
    xtr, ytr = archive.decode_many(files, train, classes, root, res, ch)
    xte, yte = archive.decode_many(files, test, classes, root, res, ch)
    return {"train_images": xtr, "train_labels": ytr, "test_images": xte, "test_labels": yte, "classes": classes}


def _imagefolder_source(key, blob):
    has_test = len(blob["test_images"]) > 0
    return ImageSource(
        name="imagefolder",
        key=key,
        train_images=blob["train_images"],
        train_labels=blob["train_labels"],
        test_images=blob["test_images"] if has_test else None,
        test_labels=blob["test_labels"] if has_test else None,
        num_classes=len(blob["classes"]),
    )
