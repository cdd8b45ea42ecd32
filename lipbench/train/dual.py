"""The dual task: train only a critic to maximise E_P[f] - E_Q[f] for a fixed pair (P, Q).

There is no generator. Each step draws a batch of P and a batch of Q from the pair's
``train`` split, minimises ``loss.critic_loss(f(P), f(Q)) + penalty(critic, P, Q)``
(the Wasserstein loss, so the objective is E_Q[f] - E_P[f]; the constraint's penalty
gets P as ``real`` and Q as ``fake``), takes an optimizer step and calls ``project``.
The constraint's three hooks are called the same way for every method; this loop never
looks at which one it trains. ``train.iterations`` counts critic steps (optim.n_critic,
a GAN setting, does not apply).

It runs inside :func:`lipbench.train.loop.train`, which owns the run directory, its lock,
resume planning, the summary and signal handling; checkpoints, resume and the stop-signal
protocol here are those of the GAN loop (:class:`~lipbench.train.loop._SignalFlag`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch.nn.utils import parametrize

from lipbench.constraints import build_constraints
from lipbench.data.pairs import build_pair
from lipbench.evaluate.dual import DualEvaluator
from lipbench.losses import build_loss
from lipbench.metrics.dual import time_to_fraction
from lipbench.models import build_models
from lipbench.train import loop, record
from lipbench.train.setup import build_optimizer, rng_state, seed_everything, set_rng_state

log = logging.getLogger("lipbench")


def train(cfg: DictConfig, run_dir, overrides=(), raise_errors: bool = False) -> dict:
    """Train the dual task of the validated config ``cfg`` into ``run_dir``; return its summary."""
    return loop.train(cfg, run_dir, overrides=overrides, raise_errors=raise_errors, body=_train_dual)


def build_critic(cfg: DictConfig, dim: int, device):
    """The constrained critic for inputs in R^dim and its ConstraintSet. The model registry
    builds a (generator, critic) pair; only the critic is kept (never trained or saved)."""
    _, critic = build_models(cfg.model, (dim,))
    constraints = build_constraints(cfg.constraint)
    return constraints.wrap(critic).to(device), constraints


def dual_step(critic, opt, loss, constraints, p: torch.Tensor, q: torch.Tensor) -> dict:
    """One critic update on a P batch and a Q batch; returns the losses as floats."""
    with parametrize.cached():
        objective = loss.critic_loss(critic(p).reshape(-1), critic(q).reshape(-1))
        penalty = constraints.penalty(critic, p, q)
    total = objective if penalty is None else objective + penalty
    opt.zero_grad(set_to_none=True)
    total.backward()
    opt.step()
    constraints.project(critic)
    pen = torch.zeros(()) if penalty is None else penalty.detach()
    values = torch.stack([objective.detach().cpu(), pen.cpu()]).tolist()
    return {"loss_d": values[0], "penalty": values[1]}


class _Run:
    """The state of one dual run: parts, counters and the record writers."""

    def __init__(self, cfg, run_dir: Path, summary: dict, device):
        self.cfg, self.run_dir, self.summary, self.device = cfg, run_dir, summary, device
        self.t_start = time.perf_counter()
        self.data_gen = seed_everything(int(cfg.seed))
        self.pair = build_pair(cfg.pair)
        self.critic, self.constraints = build_critic(cfg, self.pair.dim, device)
        self.opt = build_optimizer(self.critic.parameters(), cfg.optim)
        self.loss = build_loss(cfg.loss)
        summary.update(method=self.constraints.name, task="dual", pair=self.pair.describe())
        self.evaluator = DualEvaluator(cfg, self.pair, run_dir, device)
        self.step, self.train_time, self.elapsed_before = 0, 0.0, 0.0
        self.running = {"loss_d": [], "penalty": []}
        self.writer = None

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.t_start

    def resume(self, ck: dict) -> None:
        self.critic.load_state_dict(ck["critic"])
        self.opt.load_state_dict(ck["opt_d"])
        set_rng_state(ck["rng"], self.data_gen)
        self.step, self.train_time, self.elapsed_before = int(ck["step"]), float(ck["train_time_s"]), \
            float(ck["wall_time_s"])
        self.running = {k: list(v) for k, v in ck["running"].items()}
        iterations = int(self.cfg.train.iterations)
        rows = record.read_jsonl(self.run_dir / record.METRICS, max_step=min(self.step, iterations - 1))
        record.atomic_write(self.run_dir / record.METRICS, lambda f: f.writelines(json.dumps(r) + "\n" for r in rows))
        log.info("resuming %s from step %d", self.run_dir, self.step)

    def checkpoint(self) -> None:
        loop._save_checkpoint(self.run_dir / record.CHECKPOINT, {
            "run_id": self.summary["run_id"], "step": self.step, "critic": self.critic.state_dict(),
            "opt_d": self.opt.state_dict(), "rng": rng_state(self.data_gen), "running": self.running,
            "train_time_s": self.train_time, "wall_time_s": self.elapsed()})

    def evaluate(self, final: bool):
        metrics, diagnostics = self.evaluator.evaluate(self.critic, self.step, final=final)
        losses = {k: (sum(v) / len(v) if v else None) for k, v in self.running.items()}
        row = {"step": self.step, "time_s": round(self.elapsed(), 3), "train_s": round(self.train_time, 3),
               **losses, **metrics}
        record.append_jsonl(self.run_dir / record.METRICS, row)
        if self.writer is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self.writer.add_scalar(f"eval/{k}", v, self.step)
        bad = next(((k, v) for k, v in metrics.items() if isinstance(v, float) and math.isnan(v)), None)
        return {**losses, **metrics}, diagnostics, bad

    def finish(self, status: str, final: dict, diagnostics: dict) -> None:
        t = self.train_time
        self.summary.update(status=status, step=self.step, final=final, diagnostics=diagnostics,
                            train_time_s=round(t, 3), wall_time_s=round(self.elapsed(), 3),
                            it_per_s=round(self.step / t, 3) if t > 0 else None, finished_at=record.now())
        record.write_json(self.run_dir / record.SUMMARY, self.summary)
        if self.writer is not None:
            self.writer.close()


def _train_dual(cfg, run_dir: Path, summary: dict, plan, device, stop) -> None:
    run = _Run(cfg, run_dir, summary, device)
    if plan.action == "resume":
        run.resume(plan.checkpoint)
    record.atomic_write(run_dir / record.CONFIG, lambda f: f.write(OmegaConf.to_yaml(cfg)))
    record.write_json(run_dir / record.SUMMARY, summary)
    run.writer = loop._tensorboard(cfg, run_dir, run.step)
    iterations, every = int(cfg.train.iterations), int(cfg.eval.every)
    ckpt_every, log_every, batch = int(cfg.train.checkpoint_every), int(cfg.train.log_every), int(cfg.train.batch_size)
    progress = loop._progress(cfg, iterations, run.step, summary["method"])
    run.critic.train()
    if run.step == 0 and every:
        run.evaluate(final=False)  # the untrained critic: the start of the estimate's curve
    while run.step < iterations:
        t0 = time.perf_counter()
        p, q = run.pair.sample("train", batch, run.data_gen)
        values = dual_step(run.critic, run.opt, run.loss, run.constraints, p.to(device), q.to(device))
        run.step += 1
        run.train_time += time.perf_counter() - t0
        bad = loop._finite(values)
        if bad is not None:
            summary["diverged"] = {"step": run.step, "quantity": bad[0], "value": str(bad[1])}
            log.warning("diverged at step %d: %s = %s", run.step, bad[0], bad[1])
            progress.close()
            return run.finish("diverged", dict(values), {})
        for k, v in values.items():
            run.running[k].append(v)
            del run.running[k][:-log_every]
        progress.update(1)
        if every and run.step % every == 0 and run.step < iterations:
            _, _, bad = run.evaluate(final=False)
            if bad is not None:
                summary["diverged"] = {"step": run.step, "quantity": bad[0], "value": "nan"}
                progress.close()
                return run.finish("diverged", {}, {})
        if stop.signum is None and ckpt_every and run.step % ckpt_every == 0 and run.step < iterations:
            run.checkpoint()
        if stop.signum is not None:
            _stop(run, stop, progress)
    progress.close()
    _final(run, stop)


def _stop(run: _Run, stop, progress) -> None:
    """Checkpoint, record the interruption and hand the signal on (as the GAN loop does)."""
    run.checkpoint()
    run.summary.update(step=run.step, train_time_s=round(run.train_time, 3), wall_time_s=round(run.elapsed(), 3),
                       interrupted={"signal": stop.name, "step": run.step, "at": record.now()})
    record.write_json(run.run_dir / record.SUMMARY, run.summary)
    if run.writer is not None:
        run.writer.flush()
    if not stop.chained():
        progress.close()
        log.warning("interrupted by %s at step %d; checkpoint written to %s; run the same command again to resume",
                    stop.name, run.step, run.run_dir / record.CHECKPOINT)
    stop.hand_over()  # raises Interrupted, or passes the signal to the launcher's handler
    run.summary.pop("interrupted")  # that handler let the run go on


def _final(run: _Run, stop) -> None:
    final, diagnostics, bad = run.evaluate(final=True)
    final.update(time_to_fraction(record.read_jsonl(run.run_dir / record.METRICS)))
    run.checkpoint()
    if bad is not None:
        run.summary["diverged"] = {"step": run.step, "quantity": bad[0], "value": "nan"}
        run.finish("diverged", final, diagnostics)
    else:
        run.finish("completed", final, diagnostics)
    log.info("%s on %s: %s in %.1f s, estimate/W1 = %.4g -> %s", run.summary["method"], run.pair.label,
             run.summary["status"], run.summary["wall_time_s"], final.get("dual_tightness", math.nan), run.run_dir)
    if stop.signum is not None and not stop.chained():
        log.warning("%s received; the run completed, stopping", stop.name)
        raise loop.Interrupted(0)
