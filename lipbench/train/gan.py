"""The GAN task: ``n_critic`` critic steps, then one generator step, per iteration
(:mod:`lipbench.train.steps`), evaluated by the data kind's evaluator
(:mod:`lipbench.evaluate`). The constraint's hooks are called the same way for every
method; nothing here looks at which one it trains."""

from __future__ import annotations

from pathlib import Path

from lipbench import record
from lipbench.evaluate import build_evaluator
from lipbench.train.build import build_gan
from lipbench.train.setup import seed_everything
from lipbench.train.steps import train_iteration
from lipbench.train.task import Schedule, Task


class GanTask(Task):
    """One GAN run: the data, the GAN, its evaluator."""

    losses = ("loss_d", "loss_g", "penalty")

    def __init__(self, spec, run_dir: Path, summary: record.Summary, device):
        self.data_gen = seed_everything(spec.seed)
        self.data, self.gan = build_gan(spec, device)
        summary.describe(method=self.gan.constraints.name, data=self.data.describe())
        self.evaluator = build_evaluator(spec, self.data, run_dir, device)
        self.spec, self.run_dir, self.device, self.schedule = spec, Path(run_dir), device, Schedule.of(spec)
        self.n_critic = int(spec.optim["n_critic"])
        g = self.gan
        self.parts = {"generator": g.generator, "critic": g.critic, "opt_g": g.opt_g, "opt_d": g.opt_d}

    def sample_real(self, n: int):
        return self.data.sample(n, self.data_gen).to(self.device, non_blocking=True)

    def start(self) -> None:
        self.gan.generator.train()
        self.gan.critic.train()

    def iteration(self) -> dict:
        return train_iteration(self.gan, self.sample_real, self.n_critic, self.schedule.batch_size)

    def evaluate(self, step: int, final: bool):
        return self.evaluator.evaluate(self.gan.generator, self.gan.critic, step, final=final)
