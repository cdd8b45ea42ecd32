"""Speed benchmark: lipbench's training iteration against a plain PyTorch loop.

Both sides train the same generator and critic (identical initial weights) on the same
2-D mixture with the same optimizer and constraint math; the plain loop is the
hand-written minimum (no plug-ins, no registry, no divergence check). Blocks of
iterations are timed alternately in one process over repeated rounds, and the median
seconds per generator iteration and the ratio lipbench / plain are printed.

    python experiments/perf.py                      # none, clip, gp, sn on the CPU
    python experiments/perf.py --device cuda --iterations 200

This is a benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import lipbench.cli  # noqa: F401  (resolvers)
from lipbench.data import build_data
from lipbench.models import build_models
from lipbench.spec import from_config
from lipbench.train.build import build_gan
from lipbench.train.setup import seed_everything
from lipbench.train.steps import train_iteration

CONF = str(Path(__file__).resolve().parent.parent / "conf")


class PlainLoop:
    """The same math written out by hand, as a researcher would in a single script."""

    def __init__(self, name, params, G, D, optim, data, device, batch):
        self.name, self.params, self.G, self.D, self.device, self.batch = name, params, G, D, device, batch
        if name == "sn":
            for m in D.modules():
                if isinstance(m, nn.Linear):
                    spectral_norm(m, n_power_iterations=params["n_power_iterations"])
        if optim["optimizer"] == "adam":
            self.opt_g = torch.optim.Adam(G.parameters(), lr=optim["lr"], betas=tuple(optim["betas"]))
            self.opt_d = torch.optim.Adam(D.parameters(), lr=optim["lr"], betas=tuple(optim["betas"]))
        else:
            self.opt_g = torch.optim.RMSprop(G.parameters(), lr=optim["lr"])
            self.opt_d = torch.optim.RMSprop(D.parameters(), lr=optim["lr"])
        self.centers = torch.as_tensor(data.centers, dtype=torch.float32)
        self.std, self.n_critic, self.gen = data.std, optim["n_critic"], torch.Generator().manual_seed(0)

    def real(self):
        idx = torch.randint(len(self.centers), (self.batch,), generator=self.gen)
        x = self.centers[idx] + self.std * torch.randn(self.batch, 2, generator=self.gen)
        return x.to(self.device)

    def iteration(self):
        G, D = self.G, self.D
        for _ in range(self.n_critic):
            real = self.real()
            with torch.no_grad():
                fake = G(torch.randn(self.batch, G.z_dim, device=self.device))
            loss = D(fake).mean() - D(real).mean()
            if self.name == "gp":
                eps = torch.rand(self.batch, 1, device=self.device)
                x = (eps * real + (1 - eps) * fake).requires_grad_(True)
                (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
                loss = loss + self.params["weight"] * ((g.norm(2, dim=1) - 1) ** 2).mean()
            self.opt_d.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_d.step()
            if self.name == "clip":
                with torch.no_grad():
                    for p in D.parameters():
                        p.clamp_(-self.params["c"], self.params["c"])
        for p in D.parameters():
            p.requires_grad_(False)
        loss_g = -D(G(torch.randn(self.batch, G.z_dim, device=self.device))).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)


def build_pair(name, overrides, device):
    with initialize_config_dir(config_dir=CONF, version_base=None):
        spec = from_config(compose("config", overrides=[f"constraint={name}", *overrides]))
    data_gen = seed_everything(0)
    data = build_data(spec.data)
    before = torch.get_rng_state()
    _, gan = build_gan(spec, device, data=data)  # as a training run builds it
    after = torch.get_rng_state()
    torch.set_rng_state(before)
    G2, D2 = build_models(spec.model, data.shape)  # the same initial weights, unconstrained
    torch.set_rng_state(after)
    batch, n_critic = spec.train.batch_size, int(spec.optim["n_critic"])

    def lipbench_iteration():
        train_iteration(gan, lambda n: data.sample(n, data_gen).to(device, non_blocking=True), n_critic, batch)

    params = dict(spec.config.constraint[name]) if name in spec.config.constraint else {}
    plain = PlainLoop(name, params, G2.to(device), D2.to(device), spec.optim, data, device, batch)
    return lipbench_iteration, plain.iteration, n_critic


def timed(fn, k, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(k):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / k


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--constraints", default="none,clip,gp,sn")
    ap.add_argument("--iterations", type=int, default=20, help="generator iterations per timed block")
    ap.add_argument("--repeats", type=int, default=7, help="timed rounds (alternating lipbench / plain)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. model.hidden=256")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(
        f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} "
        f"iterations/block={args.iterations} repeats={args.repeats} overrides={args.overrides}"
    )
    print(f"{'constraint':<10} {'n_critic':>8} {'lipbench s/it':>14} {'plain s/it':>12} {'ratio':>7}")
    for name in args.constraints.split(","):
        ours, plain, n_critic = build_pair(name, args.overrides, device)
        timed(ours, 3, device), timed(plain, 3, device)  # warm-up
        t_ours, t_plain = [], []
        for r in range(args.repeats):
            order = (ours, plain) if r % 2 == 0 else (plain, ours)
            for fn in order:
                (t_ours if fn is ours else t_plain).append(timed(fn, args.iterations, device))
        a, b = statistics.median(t_ours), statistics.median(t_plain)
        print(f"{name:<10} {n_critic:>8} {a:>14.5f} {b:>12.5f} {a / b:>7.3f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
