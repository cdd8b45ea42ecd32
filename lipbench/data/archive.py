"""Read a folder of images, or a .tar / .tar.gz of one, into labelled uint8 tensors.

The layout follows torchvision's ``ImageFolder``: ``<class>/<file>`` (any depth below the
class folder), or a flat folder of images (one class). When the root holds a
``train_split`` and a ``test_split`` sub-folder (``train/`` and ``test/`` by default),
those are the splits; otherwise a deterministic, stratified fraction is held out.

Archives are read in one sequential pass with :mod:`tarfile`; nothing is extracted to
disk. Every failure raises :class:`~lipbench.errors.DataError` with one line naming the
path (and the file, for an unreadable image).
"""

from __future__ import annotations

import io
import os
import tarfile
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from lipbench.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".tif", ".tiff")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def _is_image(name: str) -> bool:
    base = os.path.basename(name)
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def fingerprint(root: str) -> str:
    """A string that changes when the images under ``root`` change (for cache keys)."""
    root = os.path.abspath(root)
    if os.path.isfile(root):
        st = os.stat(root)
        return f"{root}|{st.st_size}|{st.st_mtime_ns}"
    parts = [root]
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            if _is_image(f):
                st = os.stat(os.path.join(dirpath, f))
                parts.append(f"{os.path.relpath(os.path.join(dirpath, f), root)}|{st.st_size}|{st.st_mtime_ns}")
    return "\n".join(parts)


def list_files(root: str) -> Dict[str, object]:
    """``{relative posix path: loader}`` for every image under ``root``.

    For a folder the loader is the absolute file path; for an archive it is the file's
    bytes (read in one pass, since members of a .tar.gz cannot be read in random order
    cheaply).
    """
    if not os.path.exists(root):
        raise DataError(f"data.root={root}: no such file or folder")
    if os.path.isdir(root):
        out = {}
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in sorted(filenames):
                if _is_image(f):
                    full = os.path.join(dirpath, f)
                    out[os.path.relpath(full, root).replace(os.sep, "/")] = full
        return out
    if not is_archive(root):
        raise DataError(f"data.root={root}: not a folder or a .tar/.tar.gz archive of images")
    out = {}
    try:
        with tarfile.open(root, mode="r|*") as tar:  # streaming: one sequential pass
            for member in tar:
                if member.isfile() and _is_image(member.name):
                    name = member.name
                    while name.startswith("./"):
                        name = name[2:]
                    out[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"data.root={root}: cannot read archive ({e})") from None
    return out


def _strip_common_dir(paths: List[str], keep: Tuple[str, ...]) -> str:
    """The leading folder shared by all ``paths`` that wraps the real layout (e.g.
    ``cifar10/train/...`` in an archive), or ``""``. Stops at split folder names."""
    prefix = ""
    rel = paths
    while rel and all("/" in p for p in rel):
        heads = {p.split("/", 1)[0] for p in rel}
        if len(heads) != 1:
            break
        head = heads.pop()
        if head in keep:
            break
        # only strip if the next level still has sub-folders or files (i.e. keep class level)
        nxt = [p.split("/", 1)[1] for p in rel]
        if not all("/" in p for p in nxt):
            break
        prefix += head + "/"
        rel = nxt
    return prefix


def split_layout(
    files: Dict[str, object], train_split: str, test_split: str
) -> Tuple[Dict[str, str], Optional[Dict[str, str]]]:
    """Split image paths into ``train`` and ``test`` dicts ``{path: class name}``.

    ``test`` is ``None`` when there are no split folders (the caller holds out a fraction).
    """
    paths = sorted(files)
    prefix = _strip_common_dir(paths, (train_split, test_split))
    rel = {p: p[len(prefix) :] for p in paths}
    tr = {p: r[len(train_split) + 1 :] for p, r in rel.items() if r.startswith(train_split + "/")}
    te = {p: r[len(test_split) + 1 :] for p, r in rel.items() if r.startswith(test_split + "/")}
    if tr and te:
        return {p: _class_of(r) for p, r in tr.items()}, {p: _class_of(r) for p, r in te.items()}
    return {p: _class_of(r) for p, r in rel.items()}, None


def _class_of(rel: str) -> str:
    """Class = first folder below the split root; flat files form the class ``""``."""
    return rel.split("/", 1)[0] if "/" in rel else ""


def holdout_split(labels: Dict[str, str], fraction: float, seed: int = 0):
    """A deterministic stratified hold-out: ``(train, test)`` dicts ``{path: class}``."""
    by_class: Dict[str, List[str]] = {}
    for p in sorted(labels):
        by_class.setdefault(labels[p], []).append(p)
    rng = np.random.RandomState(seed)
    train, test = {}, {}
    for c in sorted(by_class):
        ps = by_class[c]
        order = rng.permutation(len(ps))
        n_test = int(round(fraction * len(ps)))
        if len(ps) >= 2:
            n_test = min(max(n_test, 1), len(ps) - 1) if fraction > 0 else 0
        else:
            n_test = 0
        for rank, i in enumerate(order):
            (test if rank < n_test else train)[ps[i]] = c
    return train, test


def subsample(labels: Dict[str, str], max_images: Optional[int], seed: int = 0) -> Dict[str, str]:
    """At most ``max_images`` entries, chosen by a fixed-seed permutation (so every
    class is represented in proportion)."""
    if max_images is None or len(labels) <= max_images:
        return labels
    paths = sorted(labels)
    keep = sorted(np.random.RandomState(seed).permutation(len(paths))[: int(max_images)].tolist())
    return {paths[i]: labels[paths[i]] for i in keep}


def decode_image(source, name: str, root: str, resolution: int, channels: int) -> np.ndarray:
    """Decode one image to an H x W x C uint8 array: centre-cropped to a square,
    converted to L or RGB, and resized (antialiased bilinear) to ``resolution``."""
    try:
        img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        img = img.convert("L" if channels == 1 else "RGB")
        w, h = img.size
        if w != h:
            s = min(w, h)
            left, top = (w - s) // 2, (h - s) // 2
            img = img.crop((left, top, left + s, top + s))
        if img.size != (resolution, resolution):
            img = img.resize((resolution, resolution), Image.BILINEAR, reducing_gap=None)
        arr = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"data.root={root}: cannot read image {name} ({type(e).__name__}: {e})") from None
    return arr[:, :, None] if arr.ndim == 2 else arr


def decode_many(files, labels: Dict[str, str], classes: List[str], root, resolution, channels, progress=True):
    """Decode ``labels``' images into ``(uint8 N x C x H x W, int64 N)`` tensors."""
    from tqdm.auto import tqdm

    index = {c: i for i, c in enumerate(classes)}
    paths = sorted(labels)
    out = np.empty((len(paths), resolution, resolution, channels), dtype=np.uint8)
    bar = tqdm(paths, desc="decoding images", unit="img", disable=not progress or len(paths) < 2000, leave=False)
    for i, p in enumerate(bar):
        out[i] = decode_image(files[p], p, root, resolution, channels)
    images = torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
    targets = torch.tensor([index[labels[p]] for p in paths], dtype=torch.int64)
    return images, targets
