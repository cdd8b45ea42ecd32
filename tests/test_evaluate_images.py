"""The image evaluator: fidelity + Lipschitz metrics, sample grids, restored modes and
untouched global RNG, on digits with a small DCGAN (domain extractor only; offline)."""

import math

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from lipbench.data import build_data
from lipbench.errors import ConfigError
from lipbench.evaluate import build_evaluator
from lipbench.models import build_models


@pytest.fixture(scope="session")
def digits_cache(tmp_path_factory):
    """Shared with tests/test_metrics_fidelity.py: the digits classifier is trained once."""
    path = tmp_path_factory.getbasetemp() / "lipbench-digits-cache"
    path.mkdir(exist_ok=True)
    return str(path)


def _cfg(**eval_overrides):
    ev = dict(
        fid_samples=120,
        fid_samples_during=60,
        ref_split="train",
        extractors=["domain"],
        inception_weights=None,
        kid_subset_size=50,
        prc=True,
        fidelity_batch_size=64,
        grad_samples=16,
    )
    ev.update(eval_overrides)
    return OmegaConf.create(
        {"seed": 3, "eval": ev, "data": {"name": "digits"}, "model": {"name": "dcgan", "z_dim": 16, "width": 8}}
    )


@pytest.fixture
def setup(digits_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("LIPBENCH_CACHE", digits_cache)
    cfg = _cfg()
    data = build_data(cfg.data)
    torch.manual_seed(0)
    g, d = build_models(cfg.model, data.shape)
    return cfg, data, g, d, tmp_path / "run"


def test_evaluate_metrics_grids_and_state(setup):
    cfg, data, g, d, run_dir = setup
    ev = build_evaluator(cfg, data, run_dir, "cpu")
    g.train()
    d.train()
    rng_before = torch.get_rng_state()
    metrics, diag = ev.evaluate(g, d, step=50, final=False)
    assert torch.equal(torch.get_rng_state(), rng_before)  # training RNG untouched
    assert g.training and d.training  # modes restored
    for key in (
        "fid_domain",
        "kid_domain",
        "is_domain",
        "precision_domain",
        "recall_domain",
        "domain_clf_acc",
        "grad_real_mean",
        "grad_interp_max",
        "lip_upper_est",
    ):
        assert key in metrics and math.isfinite(metrics[key]), key
    assert metrics["domain_clf_acc"] >= 0.95
    assert not any("inception" in k for k in metrics)
    assert "layers" in diag and len(diag["grad_norms"]["real"]) == 16
    grid = run_dir / "grid_step000050.png"
    assert grid.exists()
    w, h = Image.open(grid).size
    assert (w, h) == (8 * 16 + 9 * 2, 8 * 16 + 9 * 2)  # 8 x 8 tiles of 16 px, 2 px padding

    # same seed, same generator -> same numbers; the final evaluation writes grid_final.png
    again, _ = ev.evaluate(g, d, step=50, final=False)
    assert again["fid_domain"] == metrics["fid_domain"]
    final, _ = ev.evaluate(g, d, step=100, final=True)
    assert (run_dir / "grid_final.png").exists() and math.isfinite(final["fid_domain"])


def test_untrained_generator_scores_worse_than_real_data(setup):
    """An untrained generator's domain FID is far above that of real held-out images
    (evaluated through the same evaluator by a generator that returns real images)."""
    cfg, data, g, d, run_dir = setup
    ev = build_evaluator(cfg, data, run_dir, "cpu")

    class RealImages(torch.nn.Module):
        z_dim = 4

        def forward(self, z):
            idx = torch.arange(len(z)) % len(data.test_images)
            return data.test_images[idx].float() / 127.5 - 1

    real, _ = ev.evaluate(RealImages(), d, step=1, final=False)
    fake, _ = ev.evaluate(g, d, step=1, final=False)
    assert real["fid_domain"] < fake["fid_domain"] / 5


def test_bad_eval_options(setup):
    _, data, _, _, run_dir = setup
    with pytest.raises(ConfigError, match="eval.extractors"):
        build_evaluator(_cfg(extractors=["clip"]), data, run_dir, "cpu")
    with pytest.raises(ConfigError, match="eval.ref_split"):
        build_evaluator(_cfg(ref_split="valid"), data, run_dir, "cpu")
    with pytest.raises(ConfigError, match="eval.inception_weights"):
        build_evaluator(_cfg(extractors=["inception"], inception_weights="/no/such.pth"), data, run_dir, "cpu")
    with pytest.raises(ConfigError, match="eval.fid_samples"):
        build_evaluator(_cfg(fid_samples=1), data, run_dir, "cpu")
