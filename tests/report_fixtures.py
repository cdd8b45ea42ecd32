"""Build synthetic run directories that follow the run-record contract (CONTRACT.md).

Used by the report tests; real training is never run here. Each run dir gets a
summary.json with config/final/diagnostics, a metrics.jsonl with a few evaluations and,
for 2-D data, a final_samples.npz. By default the record has the convergence fields
(sampling floor and excess, ``converged``, time to quality, the eval.alpha / plateau /
quality_factor config keys and the top-level "convergence" dict); ``legacy=True`` writes
the older record without them (as in the 300-iteration results committed before them).
``metric_info={name: "lower" | "higher" | None | entry}`` records the metrics' directions the way an
evaluator does (summary.json's ``diagnostics.metric_info``); without it the record is one of
those written before that field, which the report reads with the declarations of that time.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Dict, Optional, Sequence

import numpy as np

PRESETS = {
    "A": (1e-4, [0.5, 0.9], 5),
    "B": (1e-4, [0.5, 0.999], 1),
    "C": (2e-4, [0.5, 0.999], 1),
    "D": (1e-3, [0.5, 0.9], 5),
    "E": (1e-3, [0.5, 0.999], 5),
    "F": (1e-3, [0.9, 0.999], 5),
}
CONSTRAINT_PARAMS = {
    "none": {},
    "clip": {"clip": {"c": 0.01}},
    "gp": {"gp": {"weight": 10.0}},
    "sn": {"sn": {"n_power_iterations": 1}},
    "sn+gp": {"sn": {"n_power_iterations": 1}, "gp": {"weight": 10.0}},
}


def make_config(
    method: str,
    seed: int,
    data: str = "eight_gaussians",
    preset: str = "A",
    loss: str = "wasserstein",
    iterations: int = 200,
) -> dict:
    lr, betas, n_critic = PRESETS[preset]
    data_cfg = {"name": data}
    if data == "swiss_roll":
        data_cfg["noise"] = 0.25
    elif data != "digits":
        data_cfg["std"] = 0.02
    return {
        "name": "test",
        "seed": seed,
        "device": "cpu",
        "data": data_cfg,
        "model": {"name": "mlp", "z_dim": 2, "width": 64},
        "constraint": CONSTRAINT_PARAMS.get(method, {method: {}}),
        "loss": {"name": loss},
        "optim": {"preset": preset, "optimizer": "adam", "lr": lr, "betas": betas, "n_critic": n_critic},
        "train": {
            "iterations": iterations,
            "batch_size": 64,
            "log_every": 100,
            "checkpoint_every": 100,
            "overwrite": False,
            "progress": False,
            "threads": 1,
        },
        "eval": {
            "every": 100,
            "n_samples": 2500,
            "w1_samples": 2000,
            "alpha": 0.05,
            "plateau_window": 3,
            "plateau_tol": 0.05,
            "quality_factor": 1.5,
        },
    }


from lipbench.metrics.convergence import RULE_VERSION  # noqa: E402  (the fixtures' flags are current)

W1_FLOOR = 0.05  # made-up sampling floors of the fixtures
FID_FLOOR = 2.0


def convergence_fields(method: str, seed: int, final: Dict[str, float], image: bool) -> Dict[str, float]:
    """Floor, excess, converged and time to quality for a fixture run: every method but
    'none' converges and reaches quality (after 100 or 200 iterations by seed parity)."""
    primary, floor = ("fid_domain", FID_FLOOR) if image else ("w1", W1_FLOOR)
    out = {
        ("fid_floor_domain" if image else "w1_floor"): floor,
        ("fid_excess_domain" if image else "w1_excess"): final[primary] / floor,
    }
    reached = method != "none"
    out["converged"] = 1.0 if reached else 0.0
    out["ttq_steps"] = 100.0 * (1 + seed % 2) if reached else float("nan")
    out["ttq_s"] = 0.5 * (1 + seed % 2) if reached else float("nan")
    return out


def run_id_of(config: dict) -> str:
    ident = {k: v for k, v in config.items() if k not in ("name", "device")}
    return hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]


def default_final(method: str, seed: int, image: bool = False) -> Dict[str, float]:
    base = {"none": 0.5, "clip": 0.3, "gp": 0.1, "sn": 0.2, "sn+gp": 0.15}.get(method, 0.4)
    jitter = 0.01 * seed
    final = {
        "loss_d": -base,
        "loss_g": base,
        "penalty": 0.01,
        "grad_real_mean": 1.0 + jitter,
        "grad_real_max": 1.5,
        "grad_fake_mean": 0.9,
        "grad_fake_max": 1.4,
        "grad_interp_mean": 1.0,
        "grad_interp_max": 1.3,
        "sigma_max": 1.0 + base,
        "sigma_prod": 2.0 + base,
        "lip_lower": 0.9 + jitter,
        "lip_upper": 2.0 + base,
        "lip_ratio": (0.9 + jitter) / (2.0 + base),
    }
    if image:
        final.update(
            {
                "fid_domain": 100 * base + seed,
                "kid_domain": base / 10,
                "kid_domain_std": 0.001,
                "is_domain": 5 - base + 0.1 * seed,
                "is_domain_std": 0.1,
                "precision_domain": 0.7,
                "recall_domain": 0.6,
                "domain_clf_acc": 0.9,
            }
        )
    else:
        final.update(
            {
                "w1": base + jitter,
                "critic_gap": base * 0.9 + jitter,
                "modes": 8 - int(10 * base),
                "hq_pct": 100 * (1 - base),
            }
        )
    return final


def _write_history(run_dir: str, fin: Dict[str, float], steps: Sequence[int]) -> None:
    """metrics.jsonl: one evaluation per step, improving towards the final values."""
    with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
        for i, step in enumerate(steps):
            scale = 1.0 + (len(steps) - 1 - i)  # metrics improve towards the final values
            rec = {"step": step, "time_s": 0.5 * i, "loss_d": -0.1 * i, "loss_g": 0.1 * i, "penalty": 0.01}
            for k in ("w1", "critic_gap", "hq_pct", "fid_domain", "lip_lower", "w1_excess", "fid_excess_domain"):
                if k in fin and fin[k] is not None:
                    rec[k] = fin[k] * scale
            for k in ("w1_floor", "fid_floor_domain"):
                if k in fin:
                    rec[k] = fin[k]
            f.write(json.dumps(rec) + "\n")


def _diagnostics(method: str, image: bool, rng, n_layers: int, metric_info) -> dict:
    """Per-layer norms, gradient norms and (when given) the metric infos an evaluator records."""
    sigma = {"none": 3.0, "clip": 0.05, "gp": 1.2, "sn": 1.0}.get(method.split("+")[0], 1.0)
    layers = [
        {
            "name": f"net.{i}",
            "kind": "conv" if image and i < n_layers - 1 else "linear",
            "sigma": sigma * (1 + 0.1 * i),
            "sigma_op": sigma * (1 + 0.1 * i) * (0.8 if image else 1.0),
        }
        for i in range(n_layers)
    ]
    grads = {k: (rng.normal(1.0 if method != "none" else 3.0, 0.1, 50)).tolist() for k in ("real", "fake", "interp")}
    out = {"layers": layers, "grad_norms": grads}
    if metric_info is not None:  # a value is a direction, or the whole entry
        out["metric_info"] = {
            name: v if isinstance(v, dict) else {"better": v, "target": None, "table": False}
            for name, v in metric_info.items()
        }
    return out


def make_run(
    root,
    method: str = "gp",
    seed: int = 0,
    status: str = "completed",
    data: str = "eight_gaussians",
    preset: str = "A",
    loss: str = "wasserstein",
    final: Optional[Dict[str, float]] = None,
    steps: Sequence[int] = (0, 100, 200),
    dirname: Optional[str] = None,
    npz: Optional[bool] = None,
    n_layers: int = 4,
    legacy: bool = False,
    metric_info: Optional[Dict[str, Optional[str]]] = None,
) -> str:
    """Write one contract-conforming run directory under ``root`` and return its path.

    ``final=None``: made-up final metrics (:func:`default_final`, plus
    :func:`convergence_fields` unless ``legacy``); a given ``final`` is written as is."""
    image = data == "digits"
    config = make_config(method, seed, data, preset, loss)
    if legacy:
        config["eval"] = {
            k: v
            for k, v in config["eval"].items()
            if k not in ("alpha", "plateau_window", "plateau_tol", "quality_factor")
        }
    run_id = run_id_of(config)
    run_dir = os.path.join(os.fspath(root), dirname or f"{method}_{data}_{preset}_s{seed}")
    os.makedirs(run_dir, exist_ok=True)
    fin = default_final(method, seed, image) if final is None else dict(final)
    if final is None and not legacy:
        fin.update(convergence_fields(method, seed, fin, image))
    rng = np.random.default_rng(seed)
    _write_history(run_dir, fin, steps)
    summary = {
        "lipbench_version": "0.1.0",
        "status": status,
        "run_id": run_id,
        "method": method,
        "config": config,
        "overrides": [f"constraint={method}", f"seed={seed}"],
        "step": steps[-1] if status == "completed" else steps[len(steps) // 2],
        "iterations": config["train"]["iterations"],
        "final": fin,
        "diagnostics": _diagnostics(method, image, rng, n_layers, metric_info),
        "diverged": {"step": 100, "quantity": "loss_d", "value": "nan"} if status == "diverged" else None,
        "error": "RuntimeError: boom" if status == "failed" else None,
        "wall_time_s": 10.0 + seed,
        "it_per_s": 20.0 - seed,
        "seed": seed,
        "device": "cpu",
        "torch_threads": 1,
        "versions": {"python": "3", "torch": "2"},
        "git_commit": None,
        "data": {"name": data},
        "started_at": "2026-01-01T00:00:00",
        "finished_at": "2026-01-01T00:01:00",
    }
    if "converged" in fin:
        ok = bool(fin["converged"])
        summary["convergence"] = {
            "metric": "fid_domain" if image else "w1",
            "window": 3,
            "tol": 0.05,
            "rule_version": RULE_VERSION,
            "converged": ok,
            "reason": "plateaued" if ok else "still improving",
        }
    with open(os.path.join(run_dir, "summary.json"), "w") as f:
        json.dump(summary, f)
    with open(os.path.join(run_dir, "config.yaml"), "w") as f:
        f.write(f"seed: {seed}\n")
    if npz if npz is not None else not image:
        g = np.linspace(-2, 2, 20)
        xx, yy = np.meshgrid(g, g)
        np.savez(
            os.path.join(run_dir, "final_samples.npz"),
            real=rng.normal(0, 1, (100, 2)),
            fake=rng.normal(0, 1.2, (100, 2)),
            surface_x=g,
            surface_y=g,
            surface_values=np.sin(xx) * np.cos(yy),
        )
    return run_dir


def make_sweep(
    root, methods=("none", "clip", "gp", "sn"), seeds=(0, 1, 2), datas=("eight_gaussians",), presets=("A",), **kw
) -> str:
    """A sweep folder with numbered job dirs (like Hydra's multirun layout)."""
    root = os.fspath(root)
    i = 0
    for data in datas:
        for preset in presets:
            for method in methods:
                for seed in seeds:
                    make_run(root, method, seed, data=data, preset=preset, dirname=str(i), **kw)
                    i += 1
    return root
