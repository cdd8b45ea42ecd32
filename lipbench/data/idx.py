"""MNIST-style IDX files, read from a folder or straight from a .tar / .tar.gz archive.

MNIST and Fashion-MNIST ship as four IDX files: ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``
(optionally gzip-compressed, ``.gz``). torchvision's ``MNIST(root)`` reads them from
``root/MNIST/raw/`` (``root/FashionMNIST/raw/``); :func:`find` accepts that layout, the raw
folder itself, or an archive holding either (e.g. ``data.root=../shared/data/mnist-idx.tar.gz``),
so no extraction to disk is needed.

The format: a big-endian header, two zero bytes, a type byte (0x08 = uint8), the number of
dimensions, then one big-endian uint32 per dimension, then the values (e.g. images: magic
0x00000803, N, rows, cols; labels: magic 0x00000801, N).
"""

from __future__ import annotations

import gzip
import os
import tarfile
from typing import Dict, Optional, Tuple

import numpy as np

from lipbench.data.archive import is_archive
from lipbench.errors import DataError

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
UBYTE = 0x08


def parse(blob: bytes, what: str) -> np.ndarray:
    """The uint8 array an IDX file holds (gzip-compressed or not); ``what`` names it in errors."""
    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0:
        raise DataError(f"{what}: not an IDX file (bad magic number)")
    if blob[2] != UBYTE:
        raise DataError(f"{what}: IDX type 0x{blob[2]:02x}; only unsigned bytes (0x08) are supported")
    nd = blob[3]
    header = 4 + 4 * nd
    if nd < 1 or len(blob) < header:
        raise DataError(f"{what}: truncated IDX header")
    dims = tuple(int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd))
    n = int(np.prod(dims))
    if len(blob) - header != n:
        raise DataError(f"{what}: IDX header says {dims} = {n} values, the file holds {len(blob) - header}")
    return np.frombuffer(blob, dtype=np.uint8, offset=header).reshape(dims).copy()


def _stem(name: str) -> Optional[str]:
    base = os.path.basename(name)
    base = base[:-3] if base.endswith(".gz") else base
    return base if base in STEMS else None


def _pick(found: Dict[str, Dict[str, object]], folder: str) -> Optional[Dict[str, object]]:
    """The four files of one folder: ``<folder>/raw`` first (torchvision's layout), else a
    folder that holds all four and is not another data set's ``raw`` folder (so that
    ``FashionMNIST/raw`` is never read as MNIST)."""

    def usable(d: str) -> bool:
        parts = d.strip("/").split("/")
        return len(found[d]) == len(STEMS) and (parts[-1] != "raw" or (len(parts) > 1 and parts[-2] == folder))

    candidates = sorted(
        (d for d in found if usable(d)), key=lambda d: (not d.endswith(f"{folder}/raw"), d.count("/"), d)
    )
    return found[candidates[0]] if candidates else None


def _scan_folder(root: str, folder: str) -> Dict[str, Dict[str, object]]:
    """``root/<folder>/raw`` (torchvision's layout), ``root/raw`` or ``root`` itself."""
    found: Dict[str, Dict[str, object]] = {}
    for sub in (f"{folder}/raw", "raw", ""):
        path = os.path.join(root, sub) if sub else root
        if os.path.isdir(path):
            for f in sorted(os.listdir(path)):
                stem = _stem(f)
                if stem is not None and os.path.isfile(os.path.join(path, f)):
                    found.setdefault(os.path.abspath(path).replace(os.sep, "/"), {})[stem] = os.path.join(path, f)
    return found


def _scan_archive(root: str) -> Dict[str, Dict[str, object]]:
    found: Dict[str, Dict[str, object]] = {}
    try:
        with tarfile.open(root, mode="r|*") as tar:  # one sequential pass
            for member in tar:
                stem = _stem(member.name) if member.isfile() else None
                if stem is not None:
                    found.setdefault(os.path.dirname(member.name), {})[stem] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"data.root={root}: cannot read archive ({e})") from None
    return found


def find(root: str, folder: str) -> Optional[Dict[str, object]]:
    """``{stem: path or bytes}`` for the four IDX files under ``root`` (a folder or an
    archive), preferring ``<folder>/raw`` (``MNIST/raw``); None when a folder lacks them.
    An archive without them is a :class:`DataError`."""
    if is_archive(root) and os.path.isfile(root):
        files = _pick(_scan_archive(root), folder)
        if files is None:
            raise DataError(f"data.root={root}: the archive does not hold the four IDX files ({', '.join(STEMS)})")
        return files
    if os.path.isdir(root):
        return _pick(_scan_folder(root, folder), folder)
    return None


def _read(source, what: str) -> np.ndarray:
    if isinstance(source, bytes):
        return parse(source, what)
    with open(source, "rb") as f:
        return parse(f.read(), str(source))


def load(files: Dict[str, object], root: str) -> Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]:
    """``((train images N x H x W, train labels), (test images, test labels))`` as uint8 arrays."""
    splits = []
    for split in ("train", "t10k"):
        images = _read(files[f"{split}-images-idx3-ubyte"], f"data.root={root}: {split}-images-idx3-ubyte")
        labels = _read(files[f"{split}-labels-idx1-ubyte"], f"data.root={root}: {split}-labels-idx1-ubyte")
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"data.root={root}: {split} images {images.shape} and labels {labels.shape} do not match"
                " (expected N x H x W and N)"
            )
        splits.append((images, labels))
    return splits[0], splits[1]
