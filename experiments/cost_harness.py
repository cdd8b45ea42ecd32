"""The measuring harness of experiments/cost.py: interleaved timing and peak-RSS probes.

Nothing here knows about GANs or constraints: :func:`interleave` times callables
round-robin, :func:`rss_rise_mib` measures the peak memory a piece of work adds, in a
forked child, and :func:`machine` describes where it ran.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import sys
import time
from pathlib import Path


def interleave(
    entries: dict,
    repeats: int,
    block: int,
    warmup: int,
    sync=lambda: None,
    clock=time.perf_counter,
    say=lambda msg: None,
) -> dict:
    """Time every ``entries[key]()`` in blocks of ``block`` calls, round-robin, ``repeats`` rounds.

    Each entry first runs ``warmup`` calls (timed as one block, reported as ``warmup``).
    Round ``r`` visits the entries in the order rotated by ``r``. Returns
    ``{key: {"warmup": seconds, "times": [seconds per call, one per round]}}``.
    """
    keys, out = list(entries), {}
    for key in keys:
        sync()
        t0 = clock()
        for _ in range(warmup):
            entries[key]()
        sync()
        out[key] = {"warmup": clock() - t0, "times": []}
    for r in range(repeats):
        t_round = clock()
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            sync()
            t0 = clock()
            for _ in range(block):
                entries[key]()
            sync()
            out[key]["times"].append((clock() - t0) / block)
        say(f"  round {r + 1}/{repeats}: {clock() - t_round:.1f} s")
    return out


def _status_kib(name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise OSError(f"{name} not in /proc/self/status")


def _trim_heap() -> None:
    """Give freed heap memory back to the OS (glibc), so that a child's RSS rise is its own."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def rss_rise_mib(prepare, work) -> float:
    """Peak resident set size reached during ``work(prepare())`` minus the RSS before it, in MiB.

    Runs in a forked child, so the parent's own peak never counts; needs Linux /proc.
    Returns NaN where /proc/self/clear_refs cannot reset the peak.
    """
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def target():
        try:
            state = prepare()
            _trim_heap()
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
            before = _status_kib("VmRSS")
            work(state)
            child.send(("ok", (_status_kib("VmHWM") - before) / 1024))
        except BaseException as e:  # reported to the parent; the child exits either way
            child.send(("error", f"{type(e).__name__}: {e}"))

    _trim_heap()
    proc = ctx.Process(target=target)
    proc.start()
    status, value = parent.recv() if parent.poll(3600) else ("error", "no answer")
    proc.join()
    if status == "error":
        if "clear_refs" in value or "/proc" in value:
            return float("nan")
        raise RuntimeError(value)
    return value


def machine(device, argv) -> dict:
    """What the numbers were measured on, and with which command."""
    import torch

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if os.path.exists("/proc/cpuinfo") else []
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), None)
    info = {
        "command": "python experiments/cost.py " + " ".join(argv),
        "device": str(device),
        "cpu": cpu,
        # the vector ISA torch dispatches to (e.g. AVX2, AVX512): bf16's speed hangs on it
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_before": list(os.getloadavg()),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
