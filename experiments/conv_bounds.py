"""Per-layer conv bounds of the shipped critics: the exact norm, the old circulant bound and
the new certified bound, with their ratios, methods and times.

    python experiments/conv_bounds.py --out results/conv_bounds
    python experiments/conv_bounds.py --critics resnet --res 16 --variants init --budget 1e12

For every conv layer (1x1 shortcuts included) of the DCGAN (width 64), SN-CNN (64) and
ResNet (128) critics on 3-channel inputs at 16 and 32 px, on the input size the layer sees:

* *exact*: the largest singular value of the layer's explicit matrix (the conv applied to
  every basis vector in float64, then ``eigvalsh`` of its smaller Gram: no code of the
  package) where that matrix has at most ``--dense`` entries; elsewhere the Lanczos value
  the new method certified (marked ``lanczos``), else none;
* *old*: the circulant FFT bound on the padded grid, the per-layer bound before the
  certificates (Sedghi et al. 2019);
* *new*: :func:`lipbench.metrics.lipschitz_ops.conv_norm_certificate` with ``--budget``
  flops and ``--max-bytes`` (defaults: what runs use): the exact norm with a float64 Cholesky certificate, or
  the circulant bound on the best embedding grid where the Cholesky would cost more;
* CPU and wall seconds of the new bound.

Variants of the weights: ``init`` (the critic's own initialization), ``sn`` (each kernel
divided by its reshaped sigma, what SN normalizes) and ``sn_conv`` (each kernel divided by
its operator norm from 50 power iterations, what sn_conv normalizes). With ``--out`` the
table (md, csv) and a README with the command and the run's wall time are written there.
This is a benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from lipbench.metrics.conv_gram import conv_geometry, gram_plan, pad_amounts
from lipbench.metrics.lipschitz_layers import conv_operator_norm
from lipbench.metrics.lipschitz_ops import (
    EXACT_BYTES,
    EXACT_FLOPS,
    circular_conv_norm,
    conv_norm_certificate,
    embedding_grids,
)
from lipbench.models.dcgan import DCGANCritic
from lipbench.models.resnet import ResNetCritic
from lipbench.models.sngan_cnn import SNGANCritic

CRITICS = {"dcgan": (DCGANCritic, 64), "sngan_cnn": (SNGANCritic, 64), "resnet": (ResNetCritic, 128)}


def conv_inputs(critic: nn.Module, res: int) -> list:
    """``(name, conv, input shape)`` of every conv, from one forward pass of a zero image."""
    seen, hooks = {}, []

    def hook(name):
        def record(module, args):
            seen.setdefault(name, tuple(args[0].shape[1:]))

        return record

    for name, m in critic.named_modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_pre_hook(hook(name)))
    with torch.no_grad():
        critic(torch.zeros(1, 3, res, res))
    for h in hooks:
        h.remove()
    return [(n, m, seen[n]) for n, m in critic.named_modules() if isinstance(m, nn.Conv2d)]


def normalize(conv: nn.Conv2d, shape, variant: str) -> torch.Tensor:
    """The kernel of ``variant``: as initialized, divided by its reshaped sigma (sn) or by
    its operator norm estimated by power iteration (sn_conv)."""
    w = conv.weight.detach()
    if variant == "sn":
        return w / torch.linalg.matrix_norm(w.flatten(1).double(), ord=2).float()
    if variant == "sn_conv":
        sigma, _ = conv_operator_norm(
            w, shape, stride=conv.stride, padding=conv.padding, dilation=conv.dilation, groups=conv.groups, n_iter=50
        )
        return w / sigma
    return w


def dense_sigma(conv: nn.Conv2d, weight, shape, limit: float):
    """The largest singular value of the explicit float64 matrix, or None above ``limit`` entries."""
    n_in = math.prod(shape)
    with torch.no_grad():
        n_out = conv(torch.zeros(1, *shape)).numel()
    if n_in * n_out > limit:
        return None
    twin = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation)
    twin = twin.double()
    twin.bias = None
    with torch.no_grad():
        twin.weight.copy_(weight.double())
        cols = [
            twin(torch.eye(n_in, dtype=torch.float64)[i : i + 512].reshape(-1, *shape)) for i in range(0, n_in, 512)
        ]
    a = torch.cat(cols).reshape(n_in, -1)  # A^T: one row per input basis vector
    gram = a.T @ a if n_out <= n_in else a @ a.T
    return float(torch.linalg.eigvalsh(gram)[-1]) ** 0.5


def old_bound(conv: nn.Conv2d, weight, shape) -> float:
    """The circulant bound on the padded grid, as the package computed it before."""
    kh, kw = weight.shape[-2:]
    pads = pad_amounts(weight, conv.padding, conv.dilation)
    grid = embedding_grids(shape[-2:], pads, (kh, kw), stride=conv.stride, best_grid=False)[0]
    return circular_conv_norm(weight, grid, stride=conv.stride, dilation=conv.dilation, groups=conv.groups)


def layer_row(conv, weight, shape, budget, dense_limit, max_bytes=EXACT_BYTES) -> dict:
    geometry = conv_geometry(conv)
    side, dim, bw = gram_plan(weight, shape, **geometry)
    wall, cpu = time.perf_counter(), time.process_time()
    cert = conv_norm_certificate(weight, shape, **geometry, budget=budget, max_bytes=max_bytes)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    svd = dense_sigma(conv, weight, shape, dense_limit)
    exact, source = (svd, "svd") if svd is not None else (cert["sigma_exact"], "lanczos")
    old = old_bound(conv, weight, shape)
    return {
        "input": "x".join(map(str, shape)),
        "gram": f"{side} {dim} (bw {bw})",
        "exact": exact,
        "exact_from": source if exact is not None else "—",
        "old": old,
        "old/exact": old / exact if exact else math.nan,
        "new": cert["bound"],
        "new/exact": cert["bound"] / exact if exact else math.nan,
        "method": cert["method"],
        "new_cpu_s": cpu,
        "new_wall_s": wall,
    }


def rows_for(critic_name: str, res: int, variant: str, budget: float, dense_limit: float, max_bytes: float) -> list:
    cls, width = CRITICS[critic_name]
    torch.manual_seed(0)
    critic = cls(3, res, width).eval()
    rows = []
    for name, conv, shape in conv_inputs(critic, res):
        weight = normalize(conv, shape, variant)
        row = {"critic": critic_name, "px": res, "variant": variant, "layer": name}
        rows.append({**row, **layer_row(conv, weight, shape, budget, dense_limit, max_bytes)})
        print(_line(rows[-1]), flush=True)
    return rows


def _fmt(v, digits=6) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}g}"


def _line(r: dict) -> str:
    return (
        f"{r['critic']:9s} {r['px']:2d}px {r['variant']:7s} {r['layer']:26s} {r['input']:10s} exact={_fmt(r['exact'])} "
        f"({r['exact_from']}) old={_fmt(r['old'])} ({_fmt(r['old/exact'], 4)}x) new={_fmt(r['new'])} "
        f"({_fmt(r['new/exact'], 7)}x) {r['method']} cpu={r['new_cpu_s']:.2f}s wall={r['new_wall_s']:.2f}s"
    )


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per critic x px x variant: the worst ratios and how many layers are within 1%."""
    out = []
    for key, g in table.groupby(["critic", "px", "variant"], sort=False):
        known = g[g["exact_from"] != "—"]
        out.append(
            {
                **dict(zip(["critic", "px", "variant"], key)),
                "layers": len(g),
                "with exact": len(known),
                "old/exact max": known["old/exact"].max(),
                "new/exact max": known["new/exact"].max(),
                "new within 1%": f"{int((known['new/exact'] <= 1.01).sum())}/{len(known)}",
                "new cpu s": g["new_cpu_s"].sum(),
            }
        )
    return pd.DataFrame(out)


def write(out: Path, table: pd.DataFrame, argv: list, wall: float, cpu: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "table.csv", index=False)
    shown = table.copy()
    for c in ("exact", "old", "new"):
        shown[c] = [_fmt(v) for v in shown[c]]
    for c in ("old/exact", "new/exact"):
        shown[c] = [_fmt(v, 7) for v in shown[c]]
    for c in ("new_cpu_s", "new_wall_s"):
        shown[c] = [f"{v:.2f}" for v in shown[c]]
    (out / "table.md").write_text(shown.to_markdown(index=False) + "\n", encoding="utf-8")
    lines = [
        "# Per-layer conv bounds of the shipped critics",
        "",
        "Generated by `experiments/conv_bounds.py` (its docstring defines every column). Command:",
        "",
        f"    python experiments/conv_bounds.py {' '.join(argv)}",
        "",
        f"Wall time {wall:.0f} s, CPU time {cpu:.0f} s (one torch thread) on {platform.machine()} "
        f"{platform.system()}, Python {platform.python_version()}, torch {torch.__version__}.",
        "",
        "## Summary (ratios over the layers whose exact norm is known)",
        "",
        summary(table).to_markdown(index=False, floatfmt=".6g"),
        "",
        "Per layer: [`table.md`](table.md), [`table.csv`](table.csv).",
    ]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--critics", nargs="+", default=list(CRITICS), choices=list(CRITICS))
    p.add_argument("--res", nargs="+", type=int, default=[16, 32])
    p.add_argument("--variants", nargs="+", default=["init", "sn", "sn_conv"], choices=["init", "sn", "sn_conv"])
    p.add_argument("--budget", type=float, default=EXACT_FLOPS, help="largest Cholesky (flops) certified")
    p.add_argument("--dense", type=float, default=3.4e7, help="largest explicit matrix (entries) for the SVD")
    p.add_argument("--max-bytes", type=float, default=EXACT_BYTES, help="largest Gram (and copy) certified, bytes")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    wall, cpu = time.perf_counter(), time.process_time()
    rows = [
        r
        for name in args.critics
        for res in args.res
        for variant in args.variants
        for r in rows_for(name, res, variant, args.budget, args.dense, args.max_bytes)
    ]
    table = pd.DataFrame(rows)
    print(summary(table).to_string(index=False))
    if args.out is not None:
        write(args.out, table, argv, time.perf_counter() - wall, time.process_time() - cpu)


if __name__ == "__main__":
    main()
