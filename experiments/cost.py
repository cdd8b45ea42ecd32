"""Cost benchmark: time and memory of every Lipschitz constraint, measured side by side.

    python experiments/cost.py --out results/cost            # the committed CPU run (1 thread)
    python experiments/cost.py --out results/gpu/cost --device cuda --cnn-width 64
    python experiments/cost.py --out /tmp/cost --tiny        # seconds: the test's setting

Every model is built by lipbench's own code (``build_gan`` of a composed, validated
config) and every timed call is the training step itself (``critic_step``,
``train_iteration``), so what is timed is what training runs. Measurements are grouped
in pools; within a pool every entry is warmed up, then timed in blocks round-robin
(the order rotates each round) for ``--repeats`` rounds, and the median is kept. The
ratios to ``none`` are therefore taken side by side in one process, robust to a load
that changes slowly. Sections:

* ``table``: every constraint on the MLP, DCGAN and SN-CNN critics, ms per critic step and
  per generator iteration (``n_critic`` of ``optim=paper``), and peak memory.
* ``scaling``: every constraint on the MLP over ``--widths`` (at ``--batch``) and
  ``--batches`` (at ``--width``): ms per critic step and peak memory.
* ``options``: fp32 eager against bf16 autocast and torch.compile (``train.precision``,
  ``train.compile``), ms per generator iteration, for ``--option-methods``.

Peak memory is the training step's memory above the built model (gradients, optimizer
state, activations, penalty graphs): on CUDA ``max_memory_allocated`` minus what was
allocated before the first step; on the CPU the rise of the peak resident set size
(Linux VmHWM, reset through /proc/self/clear_refs) in a forked child per measurement, so
no measurement inherits another's peak. Writes timings.csv, memory.csv and machine.json
to ``--out``, then the report (experiments/cost_report.py). The cases, their building and
the memory probe are in experiments/cost_cases.py. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cost_report as report  # noqa: E402
from cost_cases import CONF, Case, build, case_spec, peak_memory_mib, synchronizer  # noqa: E402
from cost_harness import interleave, machine  # noqa: E402


def plan(args) -> list:
    """The pools: lists of cases timed against each other (round-robin, see :func:`interleave`).

    Critic steps and generator iterations of a critic are separate pools, so that a round is
    short and its entries see the same load; the scaling sweep is one pool over every width,
    batch and method, so that its exponents are not bent by a load that changed in between.
    """
    methods, sections = args.constraints.split(","), args.sections.split(",")
    pools = []
    for critic in args.critics.split(",") if "table" in sections else []:
        width, batch = (args.width, args.batch) if critic == "mlp" else (args.cnn_width, args.cnn_batch)
        pools += [
            [Case("table", critic, m, width, batch, kinds=(kind,)) for m in methods]
            for kind in ("critic_step", "iteration")
        ]
    points = [(w, args.batch) for w in args.widths] + [(args.width, b) for b in args.batches if b != args.batch]
    if "scaling" in sections:
        pools.append([Case("scaling", "mlp", m, w, b) for w, b in points for m in methods])
    for critic in args.option_critics.split(",") if args.option_critics and "options" in sections else []:
        width, batch = (args.width, args.batch) if critic == "mlp" else (args.cnn_width, args.cnn_batch)
        pools.append(
            [
                Case("options", critic, m, width, batch, v, kinds=("iteration",))
                for m in args.option_methods.split(",")
                for v in args.variants.split(",")
            ]
        )
    return pools


def measure_memory(pools, device, say) -> list:
    """One memory row per fp32 case of the table and scaling sections (each measured once)."""
    cases = {
        dataclasses.replace(c, kinds=()): None
        for pool in pools
        for c in pool
        if c.variant == "fp32" and c.section != "options"
    }
    for critic in dict.fromkeys(c.critic for c in cases):
        try:  # lazy imports, one-off allocations of a first step and each data set once here, not in every child
            warm = build(next(c for c in cases if c.critic == critic), device)
            for _ in range(2):
                warm.calls["memory_probe"]()
        except Exception:
            pass  # the case's own measurement reports it
    rows = []
    for i, case in enumerate(cases, 1):
        row = {**case.__dict__, "peak_mib": "", "error": ""}
        row.pop("kinds")
        try:
            row["peak_mib"] = round(peak_memory_mib(case, device, case_spec(case, device.type)), 3)
        except Exception as e:  # a case that cannot run is reported, the others go on
            row["error"] = f"{type(e).__name__}: {e}".splitlines()[0]
            say(f"  memory of {case.method} failed: {row['error']}")
        rows.append(row)
        if i % 14 == 0 or i == len(cases):
            say(f"memory: {i}/{len(cases)} cases")
    return rows


def time_pool(pool, device, args, say) -> list:
    """Build every case of a pool, time them interleaved; one row per case, kind and repeat."""
    entries, meta, rows = {}, {}, []
    for case in pool:
        base = {**case.__dict__}
        base.pop("kinds")
        try:
            built = build(case, device)
        except Exception as e:  # reported in the table; the other cases go on
            rows.append(
                {
                    **base,
                    "kind": "",
                    "n_critic": "",
                    "phase": "error",
                    "repeat": "",
                    "seconds": "",
                    "error": f"{type(e).__name__}: {e}".splitlines()[0],
                }
            )
            say(f"  {case.method} ({case.variant}) failed: {rows[-1]['error']}")
            continue
        for kind in case.kinds:
            entries[(case, kind)] = built.calls[kind]
            meta[(case, kind)] = {**base, "kind": kind, "n_critic": built.n_critic}
    repeats = args.option_repeats if pool[0].section == "options" else args.repeats
    say(f"timing: {pool[0].section} {pool[0].critic} {pool[0].kinds[0]}: {len(entries)} entries x {repeats} rounds")
    result = interleave(entries, repeats, args.block, args.warmup, synchronizer(device), say=say) if entries else {}
    for key, res in result.items():
        rows.append({**meta[key], "phase": "warmup", "repeat": "", "seconds": res["warmup"], "error": ""})
        rows += [
            {**meta[key], "phase": "timed", "repeat": i, "seconds": t, "error": ""} for i, t in enumerate(res["times"])
        ]
    return rows


def parse(argv):
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder (e.g. results/cost)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sections", default="table,scaling,options", help="any of table, scaling, options")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--constraints", default=",".join(sorted(p.stem for p in Path(CONF, "constraint").glob("*.yaml"))))
    ap.add_argument("--critics", default="mlp,dcgan,sngan_cnn")
    ap.add_argument("--width", type=int, default=512, help="MLP width of the table and the batch sweep")
    ap.add_argument("--batch", type=int, default=256, help="MLP batch of the table and the width sweep")
    ap.add_argument("--widths", type=ints, default=[128, 256, 512, 1024])
    ap.add_argument("--batches", type=ints, default=[64, 256, 1024])
    ap.add_argument("--cnn-width", type=int, default=16, help="model.width of DCGAN and SN-CNN (64 = paper)")
    ap.add_argument("--cnn-batch", type=int, default=64)
    ap.add_argument("--option-critics", default="mlp,dcgan", help="'' = no options section")
    ap.add_argument("--option-methods", default="none,gp,sn")
    ap.add_argument("--variants", default="fp32,bf16,compile")
    ap.add_argument("--repeats", type=int, default=7, help="timed rounds per pool (median kept)")
    ap.add_argument("--option-repeats", type=int, default=3, help="rounds of the options pools (bf16 is slow on CPUs)")
    ap.add_argument("--block", type=int, default=1, help="calls per timed block")
    ap.add_argument("--warmup", type=int, default=2, help="untimed calls per entry before the rounds")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--tiny", action="store_true", help="tiny models and 2 rounds: checks the pipeline in seconds")
    args = ap.parse_args(argv)
    if args.tiny:
        args.width, args.batch, args.widths, args.batches = 32, 32, [16, 32], [16, 32]
        args.cnn_width, args.cnn_batch, args.repeats, args.option_repeats, args.warmup = 4, 8, 2, 2, 1
        args.option_critics, args.option_methods, args.variants = "mlp", "none,gp", "fp32,bf16"  # compile: minutes
    return args


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info, t0 = machine(device, argv), time.perf_counter()
    say = lambda msg: print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", flush=True)  # noqa: E731
    say(
        f"{info['cpu'] or device} | torch {info['torch']} | {info['torch_threads']} thread(s) "
        f"| load {info['load_before']}"
    )
    pools = plan(args)
    memory = [] if args.no_memory else measure_memory(pools, device, say)
    timings = [row for pool in pools for row in time_pool(pool, device, args, say)]
    cpu = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    info.update(
        wall_time_s=round(time.perf_counter() - t0, 1),
        load_after=list(os.getloadavg()),
        cpu_time_s=round(sum(u.ru_utime + u.ru_stime for u in cpu), 1),
        finished_at=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        settings={k: v for k, v in vars(args).items() if k != "out"},
    )
    report.write_raw(out, timings, memory, info)
    say(f"measured in {info['wall_time_s']} s; writing the report")
    print(report.report(out))


if __name__ == "__main__":
    main()
