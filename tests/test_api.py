"""lipbench.api.load_run: a trained run's networks reproduce what the run recorded, sampling
is deterministic, and directories without a loadable run give one-line errors."""

import json
import shutil

import numpy as np
import pytest
import torch

from conftest import FAST_2D, compose_spec
from lipbench.api import load_run
from lipbench.data import build_data
from lipbench.errors import RunDirError
from lipbench.train.loop import train


@pytest.fixture(scope="module")
def run_2d(tmp_path_factory):
    """A tiny completed 2-D run whose critic carries SN parametrizations (rebuilt on load)."""
    run_dir = tmp_path_factory.mktemp("api") / "sn"
    summary = train(compose_spec(*FAST_2D, "constraint=sn", "seed=5"), run_dir)
    assert summary["status"] == "completed", summary.get("error")
    return run_dir


def test_loaded_critic_reproduces_the_saved_surface_and_critic_gap(run_2d):
    run = load_run(run_2d)
    assert not run.generator.training and not run.critic.training
    assert run.kind == "toy2d" and run.data_shape == (2,) and run.step == 20
    summary = json.loads((run_2d / "summary.json").read_text())
    assert run.summary == summary and run.config.model.hidden == 64 and "sn" in run.config.constraint
    saved = np.load(run_2d / "final_samples.npz")
    grid = np.stack(np.meshgrid(saved["surface_x"], saved["surface_y"]), -1).reshape(-1, 2)
    with torch.no_grad():
        values = run.critic(torch.tensor(grid, dtype=torch.float32)).reshape(saved["surface_values"].shape)
    np.testing.assert_allclose(values.numpy(), saved["surface_values"], rtol=0, atol=1e-6)
    # the final metric critic_gap = E D(real) - E D(fake), recomputed from the real points the
    # evaluator drew and the generator's points for the evaluator's noise
    cfg = run.config
    real = build_data(cfg.data).sample(
        max(cfg.eval.w1_samples, cfg.eval.grad_samples), torch.Generator().manual_seed(10_007 + cfg.seed)
    )[: cfg.eval.w1_samples]
    n_fake = max(cfg.eval.n_samples, cfg.eval.w1_samples, cfg.eval.grad_samples)
    z = torch.randn(n_fake, run.z_dim, generator=torch.Generator().manual_seed(1_000_003 * (cfg.seed + 1) + 20))
    fake = run.generate(z)
    np.testing.assert_allclose(fake[: len(saved["fake"])].numpy(), saved["fake"], rtol=0, atol=1e-6)
    with torch.no_grad():
        gap = run.critic(real).mean().item() - run.critic(fake[: cfg.eval.w1_samples]).mean().item()
    assert gap == pytest.approx(summary["final"]["critic_gap"], abs=1e-6)


def test_sampling_is_deterministic_and_leaves_the_global_rng_alone(run_2d):
    state = torch.get_rng_state()
    run = load_run(run_2d)
    a, b = run.sample(1500, seed=3), run.sample(1500, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert a.shape == (1500, 2) and a.dtype == torch.float32 and torch.isfinite(a).all()
    assert torch.equal(a, b)
    assert not torch.allclose(a, run.sample(1500, seed=4))
    # the noise does not depend on the batch size, and a smaller n is a prefix of a larger one
    small = run.sample(100, seed=3, batch_size=7)
    assert torch.equal(run.noise(100, seed=3), run.noise(1500, seed=3)[:100])
    assert torch.allclose(small, a[:100], atol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        run.sample(4, uint8=True)


def _copy(run_2d, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(run_2d, dst, ignore=shutil.ignore_patterns("tb", ".lock"))
    return dst


def _edit_summary(run_dir, **changes):
    path = run_dir / "summary.json"
    summary = json.loads(path.read_text())
    summary.update(changes)
    path.write_text(json.dumps(summary))


def _one_line_error(run_dir, match, **kwargs):
    with pytest.raises(RunDirError, match=match) as info:
        load_run(run_dir, **kwargs)
    assert "\n" not in str(info.value)


def test_directories_without_a_loadable_run_give_one_line_errors(run_2d, tmp_path):
    _one_line_error(tmp_path / "missing", "no such run directory")
    (tmp_path / "empty").mkdir()
    _one_line_error(tmp_path / "empty", "no summary.json")
    failed = _copy(run_2d, tmp_path / "f")
    _edit_summary(failed, status="failed", error="RuntimeError: out of\nmemory")
    _one_line_error(failed, r"the run failed \(RuntimeError: out of memory\)")
    running = _copy(run_2d, tmp_path / "r")
    _edit_summary(running, status="running", step=10)
    _one_line_error(running, "running at step 10, not completed")
    assert load_run(running, allow_incomplete=True).step == 20  # the checkpoint's own step
    other = _copy(run_2d, tmp_path / "o")
    _edit_summary(other, run_id="0123456789ab")
    _one_line_error(other, "belongs to another run")
    corrupt = _copy(run_2d, tmp_path / "c")
    (corrupt / "checkpoint.pt").write_bytes(b"not a checkpoint")
    _one_line_error(corrupt, "checkpoint.pt is unreadable")
    (corrupt / "checkpoint.pt").unlink()
    _one_line_error(corrupt, "no checkpoint.pt")


def test_a_checkpoint_that_does_not_fit_the_config_is_refused(run_2d, tmp_path):
    changed = _copy(run_2d, tmp_path)
    summary = json.loads((changed / "summary.json").read_text())
    summary["config"]["constraint"] = {"none": {}}  # without SN's parametrizations the keys differ
    (changed / "summary.json").write_text(json.dumps(summary))
    _one_line_error(changed, "its critic does not fit the run's config")
    with pytest.raises(ValueError, match="device=nonsense"):
        load_run(run_2d, device="nonsense")
