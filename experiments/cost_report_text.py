"""Markdown and text of the cost report (see experiments/cost_report.py); every number
comes from the rows it is given."""

from __future__ import annotations

TABLE_FIELDS = (
    "critic",
    "width",
    "batch",
    "method",
    "n_critic",
    "critic_step_ms",
    "critic_step_ratio",
    "iteration_ms",
    "iteration_ratio",
    "peak_mib",
    "peak_ratio",
    "error",
)
SCALING_FIELDS = (
    "critic",
    "width",
    "batch",
    "method",
    "critic_step_ms",
    "critic_step_ratio",
    "peak_mib",
    "peak_ratio",
    "error",
)
OPTION_FIELDS = ("critic", "method", "variant", "width", "batch", "kind", "ms", "ratio_to_fp32", "warmup_s")
HEADLINE = ("gp", "sn", "sn_exact", "sn_cert", "bjorck")
BASE = "none"
WIDTH_KEY = {"mlp": "hidden", "dcgan": "width", "sngan_cnn": "width"}


def fmt(value, digits: int = 3) -> str:
    """Three significant figures (or ``digits``); ``—`` for a missing value."""
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:.0f}"
    return str(value)


def ratio(value) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _where(info) -> str:
    s = info.get("settings", {})
    device = info.get("gpu") or info.get("cpu") or info.get("device")
    return (
        f"{device}, {info.get('torch_threads')} torch thread(s), torch {info.get('torch')}; "
        f"median of {s.get('repeats')} interleaved rounds of {s.get('block')} call(s) after "
        f"{s.get('warmup')} warm-up call(s)"
    )


def cost_md(table, info) -> str:
    lines = [
        "# Cost of each constraint",
        "",
        _where(info) + ".",
        "",
        "`× none`: ratio to the unconstrained critic measured beside it (median over rounds of the",
        "ratio within a round). A generator iteration is",
        "`n_critic` critic steps (`optim=paper`) plus one generator step, so its ratio also carries",
        "the methods' different `n_critic`. Peak memory: the training step's memory above the built",
        "model (see README.md).",
        "",
    ]
    for critic in dict.fromkeys(r["critic"] for r in table):
        rows = [r for r in table if r["critic"] == critic]
        lines += [
            f"## {critic} ({WIDTH_KEY.get(critic, 'width')} {rows[0]['width']}, batch {rows[0]['batch']})",
            "",
            "| method | n_critic | ms / critic step | × none | ms / generator iteration | × none | peak MiB | × none |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            if r["error"] and r["critic_step_ms"] is None:
                lines.append(f"| {r['method']} | failed: {r['error']} |||||||")
                continue
            lines.append(
                f"| {r['method']} | {fmt(r['n_critic'])} | {fmt(r['critic_step_ms'])} | "
                f"{ratio(r['critic_step_ratio'])} | {fmt(r['iteration_ms'])} | "
                f"{ratio(r['iteration_ratio'])} | "
                f"{fmt(r['peak_mib'])} | {ratio(r['peak_ratio'])} |"
            )
        lines.append("")
    return "\n".join(lines)


def options_md(options, info) -> str:
    lines = [
        "# Training options against fp32 eager",
        "",
        _where(info) + ".",
        "",
        "`train.precision=bf16` (bfloat16 autocast) and `train.compile=true` (torch.compile of the",
        "generator and critic; penalties stay eager) against fp32 eager, per generator iteration.",
        "`warm-up s`: the first warm-up iterations, which include compiling.",
        "",
        "| critic | method | option | ms / generator iteration | × fp32 eager | warm-up s |",
        "|---|---|---|---|---|---|",
    ]
    for r in options:
        lines.append(
            f"| {r['critic']} | {r['method']} | {r['variant']} | {fmt(r['ms'])} | "
            f"{ratio(r['ratio_to_fp32'])} | {fmt(r['warmup_s'])} |"
        )
    return "\n".join(lines) + "\n"


def headline(table, scaling, exps, settings) -> list:
    """Markdown lines: the ratios of the headline methods on the MLP at the table's width."""
    mlp = {r["method"]: r for r in table if r["critic"] == "mlp"}
    slopes = {r["method"]: r for r in exps}
    lines = [
        f"MLP critic, width {settings.get('width')}, batch {settings.get('batch')}:",
        "",
        "| method | time / critic step × none | peak memory × none | width exponent | batch exponent |",
        "|---|---|---|---|---|",
    ]
    for m in (BASE, *HEADLINE):
        r, e = mlp.get(m), slopes.get(m, {})
        if r is None:
            continue
        lines.append(
            f"| {m} | {ratio(r['critic_step_ratio']) if m != BASE else fmt(r['critic_step_ms']) + ' ms'} | "
            f"{ratio(r['peak_ratio']) if m != BASE else fmt(r['peak_mib']) + ' MiB'} | "
            f"{fmt(e.get('width_exponent'), 2)} | {fmt(e.get('batch_exponent'), 2)} |"
        )
    return lines


def readme(info, table, scaling, exps, options) -> str:
    s = info.get("settings", {})
    lines = [
        "# Cost benchmark: time and memory of every constraint",
        "",
        "Produced from the repository root by:",
        "",
        f"    {info.get('command')}",
        "",
        f"* machine: {info.get('cpu')} ({info.get('cores')} cores), device `{info.get('device')}`"
        + (f" ({info['gpu']})" if info.get("gpu") else ""),
        f"* torch {info.get('torch')}, {info.get('torch_threads')} torch thread(s), Python {info.get('python')}",
        f"* started {info.get('started_at')}, finished {info.get('finished_at')}; "
        f"measuring took {info.get('wall_time_s')} s of wall time"
        + (
            f" and {info['cpu_time_s']} s of CPU time (this process and its children)" if info.get("cpu_time_s") else ""
        ),
        f"* load average (1, 5, 15 min) before: {_load(info.get('load_before'))}, "
        f"after: {_load(info.get('load_after'))}"
        " — the machine is shared with other jobs, so absolute times are noisy; the ratios are taken",
        "  between entries timed round-robin in one process, which a slowly changing load affects alike.",
        f"* models: MLP critic and generator of {s.get('width')} hidden units x 3 layers on 2-D data, batch "
        f"{s.get('batch')}; DCGAN and SN-CNN (SN-GAN's standard CNN) at model.width {s.get('cnn_width')} "
        f"(64 = paper) on 32x32x3 images (scikit-learn's digits resized, grey replicated to RGB: the pixels "
        f"do not change the cost), batch {s.get('cnn_batch')}; scaling: MLP widths {s.get('widths')} at batch "
        f"{s.get('batch')}, batches {s.get('batches')} at width {s.get('width')}.",
        "",
        "## Headline",
        "",
        *headline(table, scaling, exps, s),
        "",
        "Exponent: slope of log(ms per critic step) against log(width) or log(batch), least squares",
        "(2 would be the cost of the hidden-to-hidden matrix products, 1 their cost in the batch).",
        "",
        "![ms per critic step of the MLP over width and batch, log-log](scaling.png)",
        "",
        "## Files",
        "",
        "* `cost.md` / `cost.csv` — every constraint on each critic: ms per critic step and per generator",
        "  iteration, peak memory, each with its ratio to `none`.",
        "* `scaling.csv`, `exponents.csv`, `scaling.png` / `.pdf` — the MLP over width and batch, log-log.",
        "* `options.md` / `options.csv` — bf16 autocast and torch.compile against fp32 eager.",
        "* `timings.csv`, `memory.csv`, `machine.json` — the raw measurements; "
        "`python experiments/cost_report.py <this folder>` rewrites every other file from them.",
        "",
        "## How it is measured",
        "",
        "Each model is built by lipbench's `build_gan` from the composed config and each timed call is the",
        "training step (`critic_step`, `train_iteration`). Within a pool (one critic and one kind of call;",
        "the whole scaling sweep is one pool) every entry is warmed up, then timed in blocks, round-robin",
        "with the order rotated each round. Times are the median round; a ratio is the median over rounds",
        "of the ratio within the round, whose entries ran seconds apart under the same load.",
        "Peak memory is the rise of the peak resident set size (Linux VmHWM, reset through",
        "/proc/self/clear_refs) during two training iterations in a forked child, above the built model: it",
        "counts gradients, optimizer state, activations and penalty graphs; on CUDA it is",
        "`torch.cuda.max_memory_allocated` above the memory allocated before the first step.",
        "",
    ]
    return "\n".join(lines)


def _load(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values) if values else "—"


def summary(table, scaling, exps, options, settings) -> str:
    """What the benchmark prints at the end."""
    lines = ["", *headline(table, scaling, exps, settings), ""]
    for critic in dict.fromkeys(r["critic"] for r in table if r["critic"] != "mlp"):
        rows = {r["method"]: r for r in table if r["critic"] == critic}
        lines.append(
            f"{critic}: time / critic step × none: "
            + ", ".join(f"{m} {ratio(rows[m]['critic_step_ratio'])}" for m in HEADLINE if m in rows)
        )
    for r in options:
        if r["variant"] != "fp32":
            lines.append(f"options: {r['critic']} {r['method']} {r['variant']}: {ratio(r['ratio_to_fp32'])} fp32 eager")
    return "\n".join(lines)
