"""The training loop: one function that turns a validated config into a run record.

``train`` builds the run's parts, resumes from a checkpoint when one of the same config
is present, alternates ``n_critic`` critic steps with one generator step, evaluates at
``eval.every`` and at the end, checkpoints atomically, and always leaves a
``summary.json`` whose status is ``completed``, ``diverged``, ``failed`` or (interrupted)
``running``. It never looks at which constraint it trains.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

import lipbench
from lipbench.config import run_identity
from lipbench.constraints import build_constraints
from lipbench.data import build_data
from lipbench.errors import ConfigError
from lipbench.evaluate import build_evaluator
from lipbench.losses import build_loss
from lipbench.metrics.convergence import assess
from lipbench.models import build_models
from lipbench.train import record, rundir
from lipbench.train.setup import build_optimizer, resolve_device, rng_state, seed_everything, set_rng_state, set_threads
from lipbench.train.steps import GAN, train_iteration

log = logging.getLogger("lipbench")
STOP_SIGNALS = ("SIGTERM", "SIGUSR1")


class Interrupted(SystemExit):
    """Raised after a checkpoint was written in answer to SIGTERM / SIGUSR1."""


def preemption_signal():
    """The signal a cluster launcher (submitit) uses for preemption and time-outs, if any."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    return getattr(signal, "SIG" + name.upper().removeprefix("SIG"), None)


class _HandlerRaised(BaseException):
    """Carries what a chained (launcher's) signal handler raised past the loop's failure handling."""


class _SignalFlag:
    """Turns stop signals into a flag the loop checks between iterations.

    SIGTERM and SIGUSR1 are always caught; the launcher's preemption signal (submitit's
    SIGUSR2) only when a Python handler is already installed for it. Once the loop has
    written a checkpoint, :meth:`hand_over` gives the signal to the handler installed
    before (submitit: requeue the job and exit, or log and carry on), or, when there was
    none, raises :class:`Interrupted`.
    """

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            signals = [getattr(signal, name, None) for name in STOP_SIGNALS]
            extra = preemption_signal()
            if extra is not None and callable(signal.getsignal(extra)):
                signals.append(extra)
            for sig in dict.fromkeys(s for s in signals if s is not None):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    def chained(self) -> bool:
        """Whether the pending signal goes on to a launcher's Python handler."""
        return callable(self._previous.get(self.signum))

    def hand_over(self) -> None:
        """Pass the pending signal on (see the class docstring); returns only if that handler does."""
        signum, self.signum = self.signum, None
        previous = self._previous.get(signum)
        if not callable(previous):
            raise Interrupted(0)
        log.info("passing %s on to the launcher's handler", signal.Signals(signum).name)
        try:
            previous(signum, None)
        except SystemExit:
            raise
        except BaseException as e:
            raise _HandlerRaised() from e

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def build_gan(cfg: DictConfig, device: torch.device):
    """The data and the GAN of a validated config. On CUDA, image models use channels_last
    (NHWC, faster convolutions); ``train.precision`` and ``train.compile`` are passed on
    (see lipbench.train.steps)."""
    data = build_data(cfg.data)
    generator, critic = build_models(cfg.model, data.shape)
    constraints = build_constraints(cfg.constraint)
    critic = constraints.wrap(critic).to(device)
    generator = generator.to(device)
    if device.type == "cuda" and len(data.shape) == 3:
        generator, critic = (m.to(memory_format=torch.channels_last) for m in (generator, critic))
    precision, compiled = str(cfg.train.get("precision", "fp32")), bool(cfg.train.get("compile", False))
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"train.precision=bf16: {torch.cuda.get_device_name(device)} has no bfloat16; use fp32")
    gan = GAN(
        generator=generator,
        critic=critic,
        opt_g=build_optimizer(generator.parameters(), cfg.optim),
        opt_d=build_optimizer(critic.parameters(), cfg.optim),
        loss=build_loss(cfg.loss),
        constraints=constraints,
        z_dim=generator.z_dim,
        device=device,
        precision=precision,
        run_generator=torch.compile(generator) if compiled else None,
        run_critic=torch.compile(critic) if compiled else None,
    )
    return data, gan


def _finite(values: dict):
    """The first (name, value) that is not finite, or None."""
    for k, v in values.items():
        if isinstance(v, float) and not math.isfinite(v):
            return k, v
    return None


def train(cfg: DictConfig, run_dir, overrides=(), raise_errors: bool = False, body=None) -> dict:
    """Train one run of the validated config ``cfg`` into ``run_dir``; return its summary.

    ``body(cfg, run_dir, summary, plan, device, stop)`` does the training between the
    common set-up (run dir, lock, summary, signals) and the failure handling; the default
    trains a GAN, lipbench.train.dual passes the critic-only dual task's."""
    run_dir = Path(run_dir)
    rundir.check_writable(run_dir)
    plan = rundir.plan(run_dir, run_identity(cfg), bool(cfg.train.overwrite))  # reads only; may raise
    if plan.action == "skip":
        log.info("%s already holds a %s run of this config; skipping (train.overwrite=true re-trains)",
                 run_dir, plan.summary.get("status"))
        return plan.summary
    with rundir.RunLock(run_dir):  # one process at a time trains in a run directory
        return _run(cfg, run_dir, overrides, raise_errors, body or _train)


def _run(cfg: DictConfig, run_dir: Path, overrides, raise_errors: bool, body=None) -> dict:
    run_id = run_identity(cfg)
    plan = rundir.plan(run_dir, run_id, bool(cfg.train.overwrite))  # again, now that no one else writes
    if plan.action == "skip":
        return plan.summary
    if plan.action == "fresh":
        rundir.clear(run_dir)
    rundir.remove_stale_temporaries(run_dir)

    file_log = logging.FileHandler(run_dir / "train.log")
    file_log.setFormatter(logging.Formatter("[%(asctime)s][%(levelname)s] %(message)s"))
    logging.getLogger().addHandler(file_log)
    device = resolve_device(cfg.device)
    threads = set_threads(cfg.train.threads)
    summary = {
        "lipbench_version": lipbench.__version__,
        "status": "running",
        "run_id": run_id,
        "method": None,
        "config": OmegaConf.to_container(cfg, resolve=True),
        "overrides": list(overrides),
        "step": 0,
        "iterations": int(cfg.train.iterations),
        "final": {},
        "diagnostics": {},
        "diverged": None,
        "error": None,
        "wall_time_s": 0.0,
        "train_time_s": 0.0,
        "it_per_s": None,
        "seed": int(cfg.seed),
        "device": str(device),
        "torch_threads": threads,
        "versions": record.versions(),
        "git_commit": record.git_commit(),
        "started_at": (plan.summary or {}).get("started_at") if plan.action == "resume" else record.now(),
        "finished_at": None,
    }
    if plan.action == "resume":
        summary["resumes"] = list((plan.summary or {}).get("resumes") or []) + [
            {"step": int(plan.checkpoint["step"]), "at": record.now()}]
    try:
        with _SignalFlag() as stop:
            (body or _train)(cfg, run_dir, summary, plan, device, stop)
    except _HandlerRaised as e:
        raise e.__cause__ from None
    except Exception as e:
        summary["status"] = "failed"
        summary["error"] = f"{type(e).__name__}: {e}"
        summary["traceback"] = traceback.format_exc()
        summary["finished_at"] = record.now()
        try:
            record.write_json(run_dir / record.SUMMARY, summary)
        except OSError:
            log.error("could not write %s", run_dir / record.SUMMARY)
        log.error("run failed: %s (details in %s)", summary["error"], run_dir / record.SUMMARY)
        if raise_errors:
            raise
    finally:
        logging.getLogger().removeHandler(file_log)
        file_log.close()
    return summary


def _train(cfg, run_dir: Path, summary: dict, plan, device, stop: _SignalFlag) -> None:
    t_start = time.perf_counter()
    data_gen = seed_everything(int(cfg.seed))
    data, gan = build_gan(cfg, device)
    summary["method"] = gan.constraints.name
    summary["data"] = data.describe()
    evaluator = build_evaluator(cfg, data, run_dir, device)
    n_critic, batch = int(cfg.optim.n_critic), int(cfg.train.batch_size)
    iterations, every = int(cfg.train.iterations), int(cfg.eval.every)
    ckpt_every, log_every = int(cfg.train.checkpoint_every), int(cfg.train.log_every)

    step, train_time, elapsed_before, running = 0, 0.0, 0.0, {"loss_d": [], "loss_g": [], "penalty": []}
    if plan.action == "resume":
        ck = plan.checkpoint
        gan.generator.load_state_dict(ck["generator"])
        gan.critic.load_state_dict(ck["critic"])
        gan.opt_g.load_state_dict(ck["opt_g"])
        gan.opt_d.load_state_dict(ck["opt_d"])
        set_rng_state(ck["rng"], data_gen)
        step, train_time, elapsed_before = int(ck["step"]), float(ck["train_time_s"]), float(ck["wall_time_s"])
        running = {k: list(v) for k, v in ck["running"].items()}
        # rows evaluated after the checkpoint are evaluated again; so is the final one
        rows = record.read_jsonl(run_dir / record.METRICS, max_step=min(step, iterations - 1))
        record.atomic_write(run_dir / record.METRICS, lambda f: f.writelines(json.dumps(r) + "\n" for r in rows))
        log.info("resuming %s from step %d", run_dir, step)
    record.atomic_write(run_dir / record.CONFIG, lambda f: f.write(OmegaConf.to_yaml(cfg)))
    record.write_json(run_dir / record.SUMMARY, summary)
    writer = _tensorboard(cfg, run_dir, step)

    def elapsed():
        return elapsed_before + time.perf_counter() - t_start

    def checkpoint():
        _save_checkpoint(run_dir / record.CHECKPOINT, {
            "run_id": summary["run_id"], "step": step,
            "generator": gan.generator.state_dict(), "critic": gan.critic.state_dict(),
            "opt_g": gan.opt_g.state_dict(), "opt_d": gan.opt_d.state_dict(),
            "rng": rng_state(data_gen), "running": running,
            "train_time_s": train_time, "wall_time_s": elapsed(),
        })

    def evaluate(final):
        metrics, diagnostics = evaluator.evaluate(gan.generator, gan.critic, step, final=final)
        losses = {k: (sum(v) / len(v) if v else None) for k, v in running.items()}
        row = {"step": step, "time_s": round(elapsed(), 3), "train_time_s": round(train_time, 3), **losses, **metrics}
        record.append_jsonl(run_dir / record.METRICS, row)
        if writer is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and v is not None:
                    writer.add_scalar(f"eval/{k}", v, step)
            _log_picture(writer, getattr(evaluator, "picture", None), step)
        bad = _diverged_metric(metrics, getattr(evaluator, "primary_metric", None))
        return {**losses, **metrics}, diagnostics, bad

    def finish(status, final_metrics, diagnostics):
        summary.update(status=status, step=step, final=final_metrics, diagnostics=diagnostics,
                       train_time_s=round(train_time, 3), wall_time_s=round(elapsed(), 3),
                       it_per_s=round(step / train_time, 3) if train_time > 0 else None,
                       finished_at=record.now())
        record.write_json(run_dir / record.SUMMARY, summary)
        if writer is not None:
            writer.close()

    def sample_real(n):
        return data.sample(n, data_gen).to(device, non_blocking=True)

    progress = _progress(cfg, iterations, step, summary["method"])
    gan.generator.train()
    gan.critic.train()
    while step < iterations:
        t0 = time.perf_counter()
        values = train_iteration(gan, sample_real, n_critic, batch)
        step += 1
        train_time += time.perf_counter() - t0
        bad = _finite(values)
        if bad is not None:
            summary["diverged"] = {"step": step, "quantity": bad[0], "value": str(bad[1])}
            log.warning("diverged at step %d: %s = %s", step, bad[0], bad[1])
            progress.close()
            finish("diverged", {k: v for k, v in values.items()}, {})
            return
        for k, v in values.items():
            running[k].append(v)
            del running[k][:-log_every]
        if writer is not None and step % log_every == 0:
            for k, v in running.items():
                writer.add_scalar(f"train/{k}", sum(v) / len(v), step)
        progress.update(1)
        if step % log_every == 0:
            progress.set_postfix(loss_d=f"{values['loss_d']:.3g}", loss_g=f"{values['loss_g']:.3g}")
        if every and step % every == 0 and step < iterations:
            _, _, bad = evaluate(final=False)
            if bad is not None:
                summary["diverged"] = {"step": step, "quantity": bad[0], "value": "nan"}
                progress.close()
                finish("diverged", {}, {})
                return
        if stop.signum is None and ckpt_every and step % ckpt_every == 0 and step < iterations:
            checkpoint()
        if stop.signum is not None:
            checkpoint()
            summary.update(step=step, train_time_s=round(train_time, 3), wall_time_s=round(elapsed(), 3),
                           interrupted={"signal": stop.name, "step": step, "at": record.now()})
            record.write_json(run_dir / record.SUMMARY, summary)
            if writer is not None:
                writer.flush()
            if stop.chained():
                log.warning("%s at step %d: checkpoint written to %s; the launcher decides what happens next "
                            "(requeued jobs resume from this checkpoint)", stop.name, step, run_dir / record.CHECKPOINT)
            else:
                progress.close()
                if writer is not None:
                    writer.close()
                log.warning("interrupted by %s at step %d; checkpoint written to %s; run the same command again "
                            "to resume", stop.name, step, run_dir / record.CHECKPOINT)
            stop.hand_over()  # raises Interrupted, or passes the signal to the launcher's handler
            summary.pop("interrupted")  # that handler let the run go on
    progress.close()
    final, diagnostics, bad = evaluate(final=True)
    final = _with_convergence(cfg, run_dir, evaluator, final, summary)
    checkpoint()
    if bad is not None:
        summary["diverged"] = {"step": step, "quantity": bad[0], "value": "nan"}
        finish("diverged", final, diagnostics)
    else:
        finish("completed", final, diagnostics)
    log.info("%s: %s in %.1f s (%.1f it/s) -> %s", summary["method"], summary["status"], summary["wall_time_s"],
             summary["it_per_s"] or 0, run_dir)
    if stop.signum is not None and not stop.chained():
        # a stop signal that came during the final evaluation still stops a sweep
        log.warning("%s received; the run completed, stopping", stop.name)
        raise Interrupted(0)


def _diverged_metric(metrics: dict, primary):
    """``(name, value)`` when an evaluation shows divergence, else None: the evaluator's primary
    metric is NaN or missing (a generator that produced non-finite samples gets none), or, for
    an evaluator that names no primary metric, any metric is NaN. Diagnostics that may be NaN
    by design (a Lipschitz bound with no certificate, a time to quality never reached) do not
    count when a primary metric is named."""
    if primary is not None:
        value = metrics.get(primary, math.nan)
        return (primary, value) if not isinstance(value, (int, float)) or math.isnan(value) else None
    return next(((k, v) for k, v in metrics.items() if isinstance(v, float) and math.isnan(v)), None)


def _with_convergence(cfg, run_dir: Path, evaluator, final: dict, summary: dict) -> dict:
    """``final`` plus ``converged`` / ``ttq_steps`` / ``ttq_s`` from the run's evaluation history,
    for evaluators that name a primary metric and its floor (see lipbench.metrics.convergence)."""
    metric = getattr(evaluator, "primary_metric", None)
    if metric is None or metric not in final:
        return final
    e = cfg.eval
    rows = record.read_jsonl(run_dir / record.METRICS)
    floor_metric = getattr(evaluator, "floor_metric", None)
    extra, entry = assess(rows, metric, final.get(floor_metric), int(e.plateau_window), float(e.plateau_tol),
                          float(e.quality_factor), float(e.plateau_cv), getattr(evaluator, "comparable_by", None))
    summary["convergence"] = {**entry, "floor_metric": floor_metric}
    return {**final, **extra}


def _save_checkpoint(path: Path, state: dict) -> None:
    """Write the checkpoint atomically; on failure the previous one is left as it was."""
    try:
        record.save_checkpoint(path, state)
    except OSError as e:
        raise OSError(e.errno, f"writing {path} at step {state['step']} failed ({e.strerror or e}); "
                               "any previous checkpoint is left intact") from e


def _progress(cfg, total, initial, method):
    flag = str(cfg.train.progress).lower()
    disable = (not sys.stderr.isatty()) if flag == "auto" else flag != "true"
    return tqdm(total=total, initial=initial, desc=f"{method}", disable=disable, dynamic_ncols=True, leave=False)


def _tensorboard(cfg, run_dir, step):
    if not cfg.train.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # pragma: no cover - tensorboard is a dependency
        log.warning("tensorboard is not installed; train.tensorboard ignored")
        return None
    return SummaryWriter(str(run_dir / "tb"), purge_step=step if step else None)


def _log_picture(writer, path, step) -> None:
    """Log the evaluator's picture of this evaluation (a PNG: the 2-D samples over the critic's
    surface, or the image grid) as the TensorBoard image ``samples`` at ``step``."""
    if path is None or not Path(path).is_file():
        return
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    writer.add_image("samples", pixels, step, dataformats="HWC")
