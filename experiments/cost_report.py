"""The report of the cost benchmark (experiments/cost.py): tables, scaling fits and plots.

It reads what the benchmark measured (``timings.csv``: one row per timed block,
``memory.csv``: one row per peak-memory probe, ``machine.json``: the command and the
machine) and writes, next to them:

    cost.md / cost.csv        method x critic: ms per critic step and per generator iteration (median
                              of the rounds), peak memory, each with its ratio to ``none`` (median
                              over rounds of the ratio within the round)
    scaling.csv               MLP: every method at every width and batch, ms per critic step, memory
    exponents.csv             per method, the fitted slope of log time against log width / log batch
    scaling.png / .pdf        the log-log plots of those sweeps
    options.md / .csv         fp32 eager vs bf16 autocast vs torch.compile, ratio to fp32 eager
    README.md                 the command, the machine, the load, and what each file holds

It imports no torch (nor lipbench), so it runs wherever the results are read:
``python experiments/cost_report.py results/cost`` redraws everything from the CSVs.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cost_report_text as cost_text  # noqa: E402

KEY = ("section", "critic", "method", "variant", "width", "batch")
TIMING_FIELDS = (*KEY, "kind", "n_critic", "phase", "repeat", "seconds", "error")
MEMORY_FIELDS = (*KEY, "peak_mib", "error")
BASELINE = "none"
VARIANT_ORDER = ("fp32", "bf16", "compile")


def write_csv(path: Path, rows, fields) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(fields), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def read_csv(path: Path) -> list:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_raw(out, timings, memory, info) -> None:
    """What the benchmark measured, as it measured it."""
    out = Path(out)
    write_csv(out / "timings.csv", timings, TIMING_FIELDS)
    write_csv(out / "memory.csv", memory, MEMORY_FIELDS)
    (out / "machine.json").write_text(json.dumps(info, indent=2) + "\n")


def _key(row) -> tuple:
    return tuple(row[k] if k in ("section", "critic", "method", "variant") else int(row[k]) for k in KEY)


def medians(timings) -> dict:
    """``{(key, kind): {"ms": median ms per call, "n_critic", "warmup_s"}}`` over the timed rounds."""
    times, extra = defaultdict(list), {}
    for r in timings:
        if r["phase"] not in ("timed", "warmup"):
            continue
        k = (_key(r), r["kind"])
        extra.setdefault(k, {"n_critic": int(r["n_critic"]), "warmup_s": None})
        if r["phase"] == "warmup":
            extra[k]["warmup_s"] = float(r["seconds"])
        else:
            times[k].append((int(r["repeat"]), float(r["seconds"]) * 1e3))
    return {
        k: {"ms": statistics.median(t for _, t in v), "rounds": [t for _, t in sorted(v)], **extra[k]}
        for k, v in times.items()
    }


def paired_ratio(m, b):
    """Median over rounds of (entry / baseline in the same round): a round is short, so both saw the
    same load; the ratio of the medians when the round counts differ. None without both."""
    if not m or not b:
        return None
    if len(m["rounds"]) == len(b["rounds"]) and all(b["rounds"]):
        return statistics.median(x / y for x, y in zip(m["rounds"], b["rounds"]))
    return _ratio(m["ms"], b["ms"])


def errors(timings, memory) -> dict:
    """``{key: message}`` for the cases that could not be built, run or measured."""
    return {_key(r): r["error"] for r in [*timings, *memory] if r.get("error")}


def _ratio(value, base):
    if value is None or base is None or not base or (isinstance(value, float) and math.isnan(value)):
        return None
    return value / base


def _peaks(memory) -> dict:
    return {_key(r): float(r["peak_mib"]) for r in memory if r.get("peak_mib") not in (None, "")}


def table_rows(timings, memory, section="table", kinds=("critic_step", "iteration")) -> list:
    """One row per (critic, width, batch, method) of ``section``; ratios against ``none`` at the same point."""
    med, peaks, errs = medians(timings), _peaks(memory), errors(timings, memory)
    cases = sorted(
        {k for k, _ in med if k[0] == section} | {k for k in errs if k[0] == section},
        key=lambda k: (k[1], k[4], k[5], k[2] != BASELINE, k[2]),
    )
    rows = []
    for k in cases:
        base = (k[0], k[1], BASELINE, k[3], k[4], k[5])
        row = {"critic": k[1], "width": k[4], "batch": k[5], "method": k[2], "error": errs.get(k, "")}
        for kind in kinds:
            m, b = med.get((k, kind)), med.get((base, kind))
            row["n_critic"] = row.get("n_critic") or (m or {}).get("n_critic")
            row[f"{kind}_ms"] = m["ms"] if m else None
            row[f"{kind}_ratio"] = paired_ratio(m, b)
        row["peak_mib"] = peaks.get(k)
        row["peak_ratio"] = _ratio(peaks.get(k), peaks.get(base))
        rows.append(row)
    return rows


def fit_exponent(xs, ys):
    """Least-squares slope of log y against log x (the power law's exponent); None if < 2 points."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx, my = statistics.fmean(p[0] for p in pts), statistics.fmean(p[1] for p in pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else None


def sweeps(scaling, width0, batch0):
    """``{method: {"width": [(w, ms)], "batch": [(b, ms)]}}``: the width sweep at ``batch0``
    and the batch sweep at ``width0``."""
    out = defaultdict(lambda: {"width": [], "batch": []})
    for r in scaling:
        if r["critic_step_ms"] is None:
            continue
        if r["batch"] == batch0:
            out[r["method"]]["width"].append((r["width"], r["critic_step_ms"]))
        if r["width"] == width0:
            out[r["method"]]["batch"].append((r["batch"], r["critic_step_ms"]))
    return {m: {k: sorted(v) for k, v in d.items()} for m, d in out.items()}


def exponent_rows(sweep) -> list:
    rows = []
    for method, d in sweep.items():
        rows.append(
            {
                "method": method,
                "width_exponent": fit_exponent(*zip(*d["width"])) if d["width"] else None,
                "widths": " ".join(str(w) for w, _ in d["width"]),
                "batch_exponent": fit_exponent(*zip(*d["batch"])) if d["batch"] else None,
                "batches": " ".join(str(b) for b, _ in d["batch"]),
            }
        )
    return sorted(rows, key=lambda r: (r["method"] != BASELINE, r["method"]))


def option_rows(timings) -> list:
    """fp32 eager against each option, per (critic, method): ms per generator iteration and ratio."""
    med, rows = medians(timings), []
    for (k, kind), m in sorted(med.items()):
        if k[0] != "options":
            continue
        base = med.get(((k[0], k[1], k[2], "fp32", k[4], k[5]), kind))
        rows.append(
            {
                "critic": k[1],
                "method": k[2],
                "variant": k[3],
                "width": k[4],
                "batch": k[5],
                "kind": kind,
                "ms": m["ms"],
                "ratio_to_fp32": paired_ratio(m, base),
                "warmup_s": m["warmup_s"],
            }
        )
    order = {v: i for i, v in enumerate(VARIANT_ORDER)}
    return sorted(rows, key=lambda r: (r["critic"], r["method"] != BASELINE, r["method"], order.get(r["variant"], 9)))


def plot_scaling(sweep, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, axis, label in ((axes[0], "width", "MLP width (hidden units)"), (axes[1], "batch", "batch size")):
        for i, (method, d) in enumerate(sorted(sweep.items())):
            if len(d[axis]) >= 2:
                xs, ys = zip(*d[axis])
                ax.plot(
                    xs,
                    ys,
                    marker="os^vD<>ph*"[i % 10],
                    color=plt.cm.tab20(i % 20),
                    label=method,
                    lw=2.6 if method == BASELINE else 1.2,
                    ls="-" if i % 2 == 0 else "--",
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("ms per critic step")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_title("time vs width")
    axes[1].set_title("time vs batch")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=2, loc="upper left")
            break
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(out / f"scaling.{ext}", dpi=130)
    plt.close(fig)


def report(out) -> str:
    """Write every derived file of ``out`` from its raw measurements; return a short summary."""
    out = Path(out)
    timings, memory = read_csv(out / "timings.csv"), read_csv(out / "memory.csv")
    info = json.loads((out / "machine.json").read_text())
    settings = info.get("settings", {})
    table = table_rows(timings, memory)
    scaling = table_rows(timings, memory, section="scaling", kinds=("critic_step",))
    sweep = sweeps(scaling, settings.get("width"), settings.get("batch"))
    exps, options = exponent_rows(sweep), option_rows(timings)
    write_csv(out / "cost.csv", table, cost_text.TABLE_FIELDS)
    write_csv(out / "scaling.csv", scaling, cost_text.SCALING_FIELDS)
    write_csv(out / "exponents.csv", exps, ("method", "width_exponent", "widths", "batch_exponent", "batches"))
    write_csv(out / "options.csv", options, cost_text.OPTION_FIELDS)
    (out / "cost.md").write_text(cost_text.cost_md(table, info))
    (out / "options.md").write_text(cost_text.options_md(options, info))
    if sweep:
        plot_scaling(sweep, out)
    (out / "README.md").write_text(cost_text.readme(info, table, scaling, exps, options))
    return cost_text.summary(table, scaling, exps, options, settings)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not (Path(argv[0]) / "timings.csv").exists():
        print(
            "usage: python experiments/cost_report.py RESULTS_DIR (a folder written by experiments/cost.py)",
            file=sys.stderr,
        )
        return 2
    print(report(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
