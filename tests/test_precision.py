"""``train.precision`` (fp32 | bf16 autocast) and ``train.compile`` (torch.compile).

bf16 must really run the forward passes in bfloat16 yet keep weights, gradients and
optimizer state in float32; the gradient penalty's double backward must work under it;
a bf16 run must stay within a stated tolerance of the fp32 run of the same seed; and
each option must train and resume (bitwise, on the CPU) like any run.
"""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from omegaconf import OmegaConf

import lipbench.train.gan as gan
from conftest import FAST_2D, compose_cfg, compose_spec, rejected_in_process
from lipbench.errors import ConfigError
from lipbench.record import read_jsonl
from lipbench.record.checkpoint import load_checkpoint
from lipbench.record.identity import run_identity
from lipbench.signals import Interrupted
from lipbench.train.build import build_gan
from lipbench.train.loop import train
from lipbench.train.setup import seed_everything
from lipbench.train.steps import critic_step

# A gp run long enough for the penalty to fall well below its start (the critic learns).
TRACK = [*FAST_2D, "constraint=gp", "train.iterations=60", "eval.every=20", "seed=0"]
# bf16's relative rounding is 2^-8 (0.4%); after 60 iterations the curves may drift a little
# more. Tolerance: every evaluated loss and w1 within 5% of that curve's largest magnitude.
TOLERANCE = 0.05


def test_bad_precision_and_compile_values_name_the_key():
    with pytest.raises(ConfigError, match=r"^train\.precision=fp16: allowed: fp32, bf16$"):
        compose_cfg("train.precision=fp16")
    with pytest.raises(ConfigError, match=r"train\.compile"):
        compose_cfg("train.compile=maybe")


def test_the_cli_rejects_a_bad_precision_with_one_line_and_exit_2(tmp_path, capsys):
    code, lines = rejected_in_process(["train.precision=fp16", f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert code == 2
    assert lines == ["lipbench: config error: train.precision=fp16: allowed: fp32, bf16"]
    assert not (tmp_path / "run" / "summary.json").exists()


def test_the_defaults_keep_a_runs_identity_and_the_options_change_it():
    cfg = compose_cfg()
    assert cfg.train.precision == "fp32" and cfg.train.compile is False
    older = OmegaConf.create(OmegaConf.to_container(cfg))  # a config from before the two keys existed
    del older.train["precision"], older.train["compile"]
    assert run_identity(cfg) == run_identity(older)
    assert run_identity(compose_cfg("train.precision=bf16")) != run_identity(cfg)
    assert run_identity(compose_cfg("train.compile=true")) != run_identity(cfg)


def _critic_step(*overrides):
    spec = compose_spec(*FAST_2D, "constraint=gp", *overrides)
    seed_everything(0)
    data, gan = build_gan(spec, torch.device("cpu"))
    real = data.sample(64, torch.Generator().manual_seed(1))
    torch.manual_seed(2)  # the same noise and interpolation points in both precisions
    loss, penalty = critic_step(gan, real)
    return gan, real, float(loss), float(penalty)


def test_bf16_runs_the_forward_in_bfloat16_and_keeps_float32_state():
    gan32, real, loss32, pen32 = _critic_step()
    gan16, _, loss16, pen16 = _critic_step("train.precision=bf16")
    with gan16.autocast():
        assert gan16.critic(real).dtype == torch.bfloat16
    assert gan32.critic(real).dtype == torch.float32
    for p in [*gan16.critic.parameters(), *gan16.generator.parameters()]:
        assert p.dtype == torch.float32
    assert all(p.grad.dtype == torch.float32 for p in gan16.critic.parameters())
    state = [t for s in gan16.opt_d.state.values() for t in s.values() if torch.is_tensor(t) and t.dim() > 0]
    assert state and all(t.dtype == torch.float32 for t in state)
    # the gradient penalty (a double backward) under autocast: same value up to bf16 rounding
    assert pen16 != pen32 and pen16 == pytest.approx(pen32, rel=3e-2)
    assert loss16 == pytest.approx(loss32, rel=3e-2, abs=3e-3)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """The same gp run in fp32 and in bf16: {precision: (summary, metrics rows)}."""
    out = {}
    for precision in ("fp32", "bf16"):
        run_dir = tmp_path_factory.mktemp(precision)
        summary = train(compose_spec(*TRACK, f"train.precision={precision}"), run_dir)
        out[precision] = (summary, read_jsonl(run_dir / "metrics.jsonl"))
    return out


def test_a_bf16_run_stays_within_tolerance_of_fp32(tracked):
    (s32, rows32), (s16, rows16) = tracked["fp32"], tracked["bf16"]
    assert s32["status"] == s16["status"] == "completed"
    assert [r["step"] for r in rows32] == [r["step"] for r in rows16] == [20, 40, 60]
    assert rows32[-1]["penalty"] < 0.7 * rows32[0]["penalty"]  # the critic learned: not a trivial comparison
    for key in ("loss_d", "penalty", "loss_g", "w1"):
        scale = max(abs(r[key]) for r in rows32)
        worst = max(abs(a[key] - b[key]) for a, b in zip(rows32, rows16))
        assert worst <= TOLERANCE * scale, (key, worst, scale)
    assert rows16 != rows32  # bf16 was applied


def _signal_at(monkeypatch, at_call):
    real, calls = gan.train_iteration, []

    def iteration(*args, **kwargs):
        calls.append(1)
        if len(calls) == at_call:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(gan, "train_iteration", iteration)


def _interrupt_and_resume(spec, run_dir, monkeypatch, at_call=25):
    _signal_at(monkeypatch, at_call)
    with pytest.raises(Interrupted):
        train(spec, run_dir)
    assert load_checkpoint(run_dir / "checkpoint.pt")["step"] == at_call
    monkeypatch.undo()
    return train(spec, run_dir)


def test_a_bf16_run_resumes_to_the_uninterrupted_numbers(tracked, tmp_path, monkeypatch):
    resumed = _interrupt_and_resume(compose_spec(*TRACK, "train.precision=bf16"), tmp_path, monkeypatch)
    reference, rows = tracked["bf16"]
    assert resumed["status"] == "completed" and resumed["resumes"][0]["step"] == 25
    assert _numbers(resumed["final"]) == _numbers(reference["final"])
    assert [_numbers(r) for r in read_jsonl(tmp_path / "metrics.jsonl")] == [_numbers(r) for r in rows]


def _numbers(values: dict) -> str:
    """The values a resumed run must reproduce bitwise (NaN == NaN); wall-clock ones (``*_s``) left out."""
    return json.dumps({k: v for k, v in values.items() if not k.endswith("_s")}, sort_keys=True)


def test_compile_gives_the_steps_compiled_forms_of_the_same_modules():
    _, gan = build_gan(compose_spec(*FAST_2D, "constraint=sn", "train.compile=true"), torch.device("cpu"))
    for compiled, module in ((gan.run_critic, gan.critic), (gan.run_generator, gan.generator)):
        assert isinstance(compiled, torch._dynamo.eval_frame.OptimizedModule)
        assert compiled._orig_mod is module  # same parameters: checkpoints and evaluation see one model
    _, eager = build_gan(compose_spec(*FAST_2D, "constraint=sn"), torch.device("cpu"))
    assert eager.run_critic is eager.critic and eager.run_generator is eager.generator


@pytest.mark.slow  # compiling the generator and critic on a CPU takes tens of seconds
def test_a_compiled_gp_run_trains_resumes_and_matches_eager(tmp_path, monkeypatch):
    run = [*FAST_2D, "model.hidden=32", "constraint=gp", "train.iterations=40", "eval.every=20", "seed=4"]
    eager = train(compose_spec(*run), tmp_path / "eager")
    compiled = train(compose_spec(*run, "train.compile=true"), tmp_path / "compiled")
    assert compiled["status"] == "completed", compiled.get("error")
    for key in ("loss_d", "penalty", "w1"):  # fused kernels round differently, nothing more
        assert compiled["final"][key] == pytest.approx(eager["final"][key], rel=1e-3, abs=1e-4)
    resumed = _interrupt_and_resume(compose_spec(*run, "train.compile=true"), tmp_path / "resumed", monkeypatch, 15)
    assert _numbers(resumed["final"]) == _numbers(compiled["final"])
