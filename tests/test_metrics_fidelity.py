"""torch-fidelity metrics with the offline domain classifier and with Inception.

The digits classifier is trained once per test session (in a session temp cache shared
with tests/test_evaluate_images.py); no network is touched: Inception is exercised with
a randomly initialised weights file of the right shapes, and its download is stubbed.
"""

import os
import urllib.error

import numpy as np
import pytest
import scipy.linalg
import torch
from omegaconf import OmegaConf

from lipbench.data import build_data
from lipbench.data.base import ImageSource
from lipbench.errors import ConfigError
from lipbench.metrics import domain
from lipbench.metrics.catalog import direction
from lipbench.metrics.fidelity import compute_fidelity


@pytest.fixture(scope="session")
def digits_cache(tmp_path_factory):
    """One cache folder per session (same path in every test module that uses it)."""
    path = tmp_path_factory.getbasetemp() / "lipbench-digits-cache"
    path.mkdir(exist_ok=True)
    return str(path)


@pytest.fixture
def digits(digits_cache, monkeypatch):
    monkeypatch.setenv("LIPBENCH_CACHE", digits_cache)
    return build_data(OmegaConf.create({"name": "digits"}))


def _noise(shape, seed=0):
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_domain_classifier_accuracy_and_cache(digits, digits_cache):
    info = domain.load_or_train(digits)
    assert info.accuracy >= 0.95
    assert info.path == os.path.join(digits_cache, "classifiers", "digits-16px-1ch.pt")
    blob = torch.load(info.path, weights_only=True)
    assert blob["test_accuracy"] == info.accuracy
    # the stored accuracy is the held-out one: recompute it independently
    with torch.no_grad():
        logits = info.model(digits.test_images.float() / 127.5 - 1)[1]
    acc = (logits.argmax(1) == digits.test_labels).float().mean().item()
    assert acc == pytest.approx(info.accuracy)
    again = domain.load_or_train(digits)  # loaded, not retrained
    assert again.fingerprint == info.fingerprint


def test_classifier_training_is_deterministic(digits, monkeypatch):
    monkeypatch.setattr(domain, "MIN_STEPS", 5)
    monkeypatch.setattr(domain, "MAX_STEPS", 5)
    small = ImageSource(
        name="d",
        key="d",
        train_images=digits.train_images[:200],
        train_labels=digits.train_labels[:200],
        test_images=None,
        num_classes=10,
    )
    torch.manual_seed(1)
    a, _ = domain.train_classifier(small)
    torch.manual_seed(2)  # the global seed plays no part
    b, _ = domain.train_classifier(small)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_domain_metrics_separate_real_from_noise(digits):
    real = compute_fidelity(digits.test_images, digits, extractors=["domain"])
    noise = compute_fidelity(_noise(digits.test_images.shape), digits, extractors=["domain"])
    expected = {
        "fid_domain",
        "kid_domain",
        "kid_domain_std",
        "is_domain",
        "is_domain_std",
        "precision_domain",
        "recall_domain",
        "domain_clf_acc",
    }
    assert set(real) == expected and set(noise) == expected
    assert real["fid_domain"] < noise["fid_domain"] / 5
    assert real["kid_domain"] < noise["kid_domain"] / 5
    assert real["is_domain"] > noise["is_domain"]
    assert real["precision_domain"] > noise["precision_domain"]
    assert real["recall_domain"] > noise["recall_domain"]
    assert direction("fid_domain") == "lower" and direction("is_inception") == "higher"
    assert direction("domain_clf_acc") is None and direction("kid_domain_std") is None


def test_domain_fid_matches_an_independent_frechet_distance(digits):
    """FID from torch-fidelity equals the Frechet distance computed here with scipy on the
    extractor's penultimate features of generated (test) vs reference (train) images."""
    name, _ = domain.register_domain_extractor(digits)
    from lipbench.metrics.domain_extractor import extractor_class

    ext = extractor_class()(name, ["penultimate"])

    def feats(x):
        return ext(x.expand(-1, 3, -1, -1))[0].double().numpy()

    f1, f2 = feats(digits.test_images), feats(digits.train_images)
    m1, m2 = f1.mean(0), f2.mean(0)
    c1, c2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(c1 @ c2).real
    fid = float(((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * covmean))
    got = compute_fidelity(digits.test_images, digits, extractors=["domain"], prc=False)["fid_domain"]
    assert got == pytest.approx(fid, rel=1e-3, abs=1e-4)


def test_reference_statistics_are_cached(digits, digits_cache):
    gen = digits.test_images[:100]
    compute_fidelity(gen, digits, extractors=["domain"], ref_split="test", prc=False)
    files = os.listdir(os.path.join(digits_cache, "fidelity"))
    ref = [f for f in files if f.startswith("lipbench-digits-16px-1ch-test359-domain-")]
    assert any("stat-fid-penultimate" in f for f in ref) and any("features-penultimate" in f for f in ref)
    # the generated images are never cached (they change at every evaluation)
    assert all(f.startswith("lipbench-") for f in files)


def test_bad_options(digits):
    with pytest.raises(ConfigError, match="eval.extractors"):
        compute_fidelity(digits.test_images, digits, extractors=["vgg"])
    with pytest.raises(ConfigError, match="eval.ref_split"):
        compute_fidelity(digits.test_images, digits, ref_split="val")


def _tiny(digits, n=5):
    """A small 3-channel data set, so that Inception on the CPU stays cheap."""
    x = digits.train_images[: 2 * n].expand(-1, 3, -1, -1).contiguous()
    return ImageSource(
        name="tiny",
        key="tiny-16px-3ch",
        train_images=x[:n],
        train_labels=digits.train_labels[:n],
        test_images=x[n:],
        test_labels=digits.train_labels[n : 2 * n],
        num_classes=10,
    )


@pytest.fixture
def random_inception_weights(tmp_path, monkeypatch):
    """A state_dict of torch-fidelity's Inception with random weights (right shapes)."""
    import torch_fidelity.feature_extractor_inceptionv3 as inc

    with monkeypatch.context() as m:
        m.setattr(inc, "load_state_dict_from_url", lambda *a, **k: None)
        m.setattr(inc.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        torch.manual_seed(0)
        model = inc.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    path = tmp_path / "random-inception.pth"
    torch.save(model.state_dict(), path)
    return str(path)


def test_inception_route_with_a_weights_file(digits, random_inception_weights):
    tiny = _tiny(digits)
    out = compute_fidelity(
        tiny.test_images, tiny, extractors=["inception"], inception_weights=random_inception_weights, kid_subset_size=3
    )
    assert set(out) == {"fid_inception", "kid_inception", "kid_inception_std", "is_inception", "is_inception_std"}
    assert all(np.isfinite(v) for v in out.values())
    with pytest.raises(ConfigError, match="eval.inception_weights"):
        compute_fidelity(tiny.test_images, tiny, extractors=["inception"], inception_weights="/no/such/file.pth")


def test_inception_offline_without_weights(digits, tmp_path, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    out = compute_fidelity(digits.test_images[:50], digits, extractors=["domain", "inception"], prc=False)
    assert "fid_domain" in out and "is_domain" in out
    assert not any(k.endswith("inception") or "_inception_" in k for k in out)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "Inception weights" in line]
    assert len(lines) == 1 and "eval.inception_weights=" in lines[0] and "no network" in lines[0]
    # a second evaluation does not retry the download nor repeat the message
    compute_fidelity(digits.test_images[:50], digits, extractors=["domain", "inception"], prc=False)
    assert "Inception weights" not in capsys.readouterr().err
