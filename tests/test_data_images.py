"""Image data sets: digits, image folders and archives (layouts, splits, caching) and
the one-line errors for bad input. Everything is built in tmp_path; no network."""

import io
import tarfile

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from lipbench.data import build_data, checked
from lipbench.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIPBENCH_CACHE", str(tmp_path / "cache"))


def _cfg(**kw):
    return OmegaConf.create(kw)


def _png(path, value, size=(10, 10), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    color = (value, 255 - value, 0) if mode == "RGB" else value
    Image.new(mode, size, color).save(path)


def _folder(root, split=True, per_class=4):
    """Two classes, 'a' (dark) and 'b' (bright); in train/ and test/ when ``split``."""
    for s in ["train", "test"] if split else [""]:
        for c, v in (("a", 20), ("b", 230)):
            for i in range(per_class if s != "test" else 2):
                _png(root / s / c / f"{i}.png", v)
    return root


def test_digits_shapes_split_and_values():
    src = build_data(_cfg(name="digits"))
    assert src.key == "digits-16px-1ch"
    assert src.train_images.dtype == torch.uint8 and src.train_images.shape[1:] == (1, 16, 16)
    assert len(src.train_images) + len(src.test_images) == 1797
    assert abs(len(src.test_images) / 1797 - 0.2) < 0.01
    assert src.num_classes == 10 and set(src.test_labels.tolist()) == set(range(10))
    assert int(src.train_images.max()) > 200  # 0..16 was stretched to 0..255
    x = src.sample(5, torch.Generator().manual_seed(0))
    assert x.min() >= -1 and x.max() <= 1
    # deterministic: the same split on a second build, independent of any global seed
    torch.manual_seed(123)
    again = build_data(_cfg(name="digits"))
    assert torch.equal(again.test_labels, src.test_labels) and torch.equal(again.train_images, src.train_images)
    rgb = build_data(_cfg(name="digits", resolution=32, channels=3))
    assert rgb.key == "digits-32px-3ch" and rgb.train_images.shape[1:] == (3, 32, 32)


def test_imagefolder_with_split_folders(tmp_path):
    root = _folder(tmp_path / "imgs")
    src = build_data(_cfg(name="imagefolder", root=str(root), resolution=8, channels=3))
    assert len(src.train_images) == 8 and len(src.test_images) == 4
    assert src.train_images.shape[1:] == (3, 8, 8) and src.num_classes == 2
    # class 'a' is dark red-ish, class 'b' bright: labels follow the folders
    red = src.train_images[:, 0].float().mean(dim=(1, 2))
    assert torch.all((red < 128) == (src.train_labels == 0))
    gray = build_data(_cfg(name="imagefolder", root=str(root), resolution=4, channels=1, cache=False))
    assert gray.train_images.shape[1:] == (1, 4, 4)


def test_imagefolder_tar_gz_equals_folder(tmp_path):
    root = _folder(tmp_path / "imgs")
    archive = tmp_path / "imgs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="wrapped")  # a wrapping folder, as archives often have
    a = build_data(_cfg(name="imagefolder", root=str(root), resolution=8))
    b = build_data(_cfg(name="imagefolder", root=str(archive), resolution=8))
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.test_labels, b.test_labels)


def test_flat_folder_and_holdout(tmp_path):
    for i in range(10):
        _png(tmp_path / "flat" / f"{i}.png", 25 * i, size=(12, 6), mode="L")
    src = build_data(_cfg(name="imagefolder", root=str(tmp_path / "flat"), resolution=6, channels=1, test_fraction=0.2))
    assert src.num_classes == 1
    assert len(src.train_images) == 8 and len(src.test_images) == 2
    assert src.train_images.shape[1:] == (1, 6, 6)
    values = sorted(int(v) for v in torch.cat([src.train_images, src.test_images])[:, 0, 0, 0])
    assert values == [25 * i for i in range(10)]  # every file exactly once, across the two splits


def test_plain_tar_and_max_images(tmp_path):
    root = _folder(tmp_path / "imgs", split=False, per_class=10)
    archive = tmp_path / "imgs.tar"
    with tarfile.open(archive, "w") as tar:
        for p in sorted(root.rglob("*.png")):
            tar.add(p, arcname=str(p.relative_to(root)))
    src = build_data(_cfg(name="imagefolder", root=str(archive), resolution=8, max_images=5))
    assert len(src.train_images) == 5 and len(src.test_images) == 2  # 10% of each class held out
    assert src.num_classes == 2 and "max5" in src.key


def test_cache_is_used_and_keyed_by_content(tmp_path):
    root = _folder(tmp_path / "imgs")
    a = build_data(_cfg(name="imagefolder", root=str(root), resolution=8))
    cached = list((tmp_path / "cache" / "images").glob("*.pt"))
    assert len(cached) == 1
    _png(root / "train" / "a" / "extra.png", 99)  # changing the folder changes the key
    b = build_data(_cfg(name="imagefolder", root=str(root), resolution=8))
    assert b.key != a.key and len(b.train_images) == 9


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match="nope"):
        build_data(_cfg(name="imagefolder", root=str(tmp_path / "nope")))
    with pytest.raises(ConfigError, match="data.root"):
        build_data(_cfg(name="imagefolder", root=None))


def test_empty_folder_and_empty_archive(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty.*no images"):
        build_data(_cfg(name="imagefolder", root=str(tmp_path / "empty")))
    with tarfile.open(tmp_path / "empty.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("readme.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(DataError, match="empty.tar.gz.*no images"):
        build_data(_cfg(name="imagefolder", root=str(tmp_path / "empty.tar.gz")))


def test_corrupt_image_names_the_file(tmp_path):
    root = _folder(tmp_path / "imgs")
    (root / "train" / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"broken\.png") as e:
        build_data(_cfg(name="imagefolder", root=str(root), resolution=8))
    assert "\n" not in str(e.value)


def test_bad_channels():
    """Refused by the schema's range check, as the config is validated (before anything is built)."""
    with pytest.raises(ConfigError, match="data.channels=2: allowed 1"):
        checked(_cfg(name="digits", channels=2))


@pytest.mark.parametrize("name", ["cifar10", "mnist", "fashion_mnist"])
def test_torchvision_missing_offline_names_both_options(tmp_path, name):
    with pytest.raises(DataError) as e:
        build_data(_cfg(name=name, root=str(tmp_path / "none"), download=False))
    msg = str(e.value)
    assert "\n" not in msg and "data.root" in msg and "data.download=true" in msg and str(tmp_path) in msg


def test_torchvision_download_failure_is_a_data_error(tmp_path, monkeypatch):
    """The download path is taken when allowed; its failure (no internet) becomes the same
    one-line error. The network is replaced by a failing stub."""
    import torchvision.datasets.utils as tvu

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(tvu, "download_url", offline)
    monkeypatch.setattr(tvu, "download_and_extract_archive", offline)
    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar, "download_and_extract_archive", offline)
    with pytest.raises(DataError, match="network is unreachable.*data.root=.*data.download=true"):
        build_data(_cfg(name="cifar10", root=str(tmp_path / "dl"), download=True))


def test_torchvision_from_existing_copy(tmp_path, monkeypatch):
    """An existing copy under data.root is read (a stand-in dataset class replaces the
    real files), converted to the configured channels and resolution."""
    import torchvision

    class Fake:
        def __init__(self, root, train, download):
            n = 6 if train else 3
            self.data = np.full((n, 28, 28), 200, dtype=np.uint8)
            self.targets = torch.arange(n) % 10

    monkeypatch.setattr(torchvision.datasets, "MNIST", Fake)
    src = build_data(_cfg(name="mnist", root=str(tmp_path), resolution=16, channels=3))
    assert src.key == "mnist-16px-3ch" and src.train_images.shape == (6, 3, 16, 16)
    assert int(src.train_images.min()) == 200 and len(src.test_images) == 3


# --- MNIST read offline: IDX files in a folder (torchvision's layout) or in the archive itself ---


def _idx(array: np.ndarray) -> bytes:
    """An IDX file written by hand: magic 0x00000803 (uint8, 3 dims) or 0x00000801 (1 dim), the
    big-endian dimensions, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _mnist_arrays(n_train=12, n_test=6):
    rng = np.random.RandomState(0)
    tr = rng.randint(0, 256, size=(n_train, 28, 28)).astype(np.uint8)
    te = rng.randint(0, 256, size=(n_test, 28, 28)).astype(np.uint8)
    return tr, np.arange(n_train) % 10, te, (np.arange(n_test) + 3) % 10


def _mnist_folder(root, folder="MNIST", gz=False):
    import gzip

    tr, ytr, te, yte = _mnist_arrays()
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    for name, a in (("train-images-idx3-ubyte", tr), ("train-labels-idx1-ubyte", ytr),
                    ("t10k-images-idx3-ubyte", te), ("t10k-labels-idx1-ubyte", yte)):  # fmt: skip
        blob = _idx(a)
        (raw / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(blob) if gz else blob)
    return root


def test_mnist_reads_the_extracted_folder_and_the_archive_alike(tmp_path):
    """data.root = the folder torchvision's MNIST(root) reads, or the .tar.gz of it: the same
    uint8 images and labels as written, test split = the t10k files."""
    import torchvision

    tr, ytr, te, yte = _mnist_arrays()
    folder = _mnist_folder(tmp_path / "extracted")
    archive = tmp_path / "mnist-idx.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "MNIST", arcname="MNIST")
    cfg = dict(name="mnist", resolution=28, channels=1, download=False)
    a = build_data(_cfg(root=str(folder), **cfg))
    b = build_data(_cfg(root=str(archive), **cfg))
    assert a.key == b.key == "mnist-28px-1ch" and a.num_classes == 10
    assert np.array_equal(a.train_images[:, 0].numpy(), tr) and np.array_equal(a.test_images[:, 0].numpy(), te)
    assert a.train_labels.tolist() == ytr.tolist() and a.test_labels.tolist() == yte.tolist()
    for x, y in ((a.train_images, b.train_images), (a.test_images, b.test_images), (a.test_labels, b.test_labels)):
        assert torch.equal(x, y)
    ref = torchvision.datasets.MNIST(str(folder), train=False, download=False)  # torchvision's own reader
    assert torch.equal(a.test_images[:, 0], ref.data) and torch.equal(a.test_labels, ref.targets)
    resized = build_data(_cfg(name="mnist", root=str(archive), download=False))  # default 32 px, as a run uses
    assert resized.key == "mnist-32px-1ch" and resized.train_images.shape == (12, 1, 32, 32)


def test_mnist_gzipped_idx_and_the_raw_folder_itself(tmp_path):
    folder = _mnist_folder(tmp_path / "gz", gz=True)
    a = build_data(_cfg(name="mnist", root=str(folder), resolution=28, download=False))
    b = build_data(_cfg(name="mnist", root=str(folder / "MNIST" / "raw"), resolution=28, download=False))
    assert np.array_equal(a.train_images[:, 0].numpy(), _mnist_arrays()[0])
    assert torch.equal(a.test_images, b.test_images)


def test_fashion_mnist_files_are_not_read_as_mnist(tmp_path):
    """Another data set's raw folder is not taken for MNIST: torchvision's path is used, and
    it fails offline with the one-line error."""
    folder = _mnist_folder(tmp_path / "f", folder="FashionMNIST")
    assert build_data(_cfg(name="fashion_mnist", root=str(folder), resolution=28, download=False)).key == (
        "fashion_mnist-28px-1ch"
    )
    with pytest.raises(DataError, match="data.download=true"):
        build_data(_cfg(name="mnist", root=str(folder), download=False))


def test_mnist_bad_archive_and_bad_idx_are_one_line_errors(tmp_path):
    empty = tmp_path / "other.tar.gz"
    with tarfile.open(empty, "w:gz") as tar:
        data = b"hello"
        info = tarfile.TarInfo("readme.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match="does not hold the four IDX files") as e:
        build_data(_cfg(name="mnist", root=str(empty)))
    assert "\n" not in str(e.value)
    folder = _mnist_folder(tmp_path / "bad")
    path = folder / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*holds"):
        build_data(_cfg(name="mnist", root=str(folder), download=False))
