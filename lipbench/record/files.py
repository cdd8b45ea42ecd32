"""The names of the files a run directory holds.

Every module that reads or writes a run record takes the names from here:

==================  ====================================================================
``summary.json``    status, resolved config, final metrics and diagnostics, timings
``metrics.jsonl``   one evaluation per line (step, losses, metrics)
``config.yaml``     the resolved config, as Hydra would print it
``checkpoint.pt``   weights, optimizer and RNG state (``torch.load(weights_only=True)``)
``train.log``       the run's log
``final_samples.npz``  2-D runs: real and generated points, the critic's value surface
``samples_*.png``   2-D runs: samples over the critic's surface (``samples_final.png`` last)
``grid_*.png``      image runs: an 8 x 8 grid of samples (``grid_final.png`` last)
``tb/``             TensorBoard events
``.lock``           held (flock) while a process trains in the directory
==================  ====================================================================
"""

from __future__ import annotations

SUMMARY = "summary.json"
METRICS = "metrics.jsonl"
CONFIG = "config.yaml"
CHECKPOINT = "checkpoint.pt"
LOG = "train.log"
SAMPLES = "final_samples.npz"
SURFACE = "samples_final.png"
GRID = "grid_final.png"
TENSORBOARD = "tb"
LOCK = ".lock"

# Files removed when a run starts afresh (the pictures are matched by PICTURES).
RECORD_FILES = (SUMMARY, METRICS, CONFIG, CHECKPOINT, LOG, SAMPLES)
PICTURES = ("samples_*.png", "grid_*.png")
# Any of these makes a directory a run directory (in this order in messages).
RUN_MARKERS = (SUMMARY, CHECKPOINT, METRICS, CONFIG)
# The compact copy of a run that a report keeps (plus SAMPLES / GRID for the runs its plots show).
COMPACT = (SUMMARY, METRICS, CONFIG)


def samples_picture(step: int, final: bool) -> str:
    """A 2-D evaluation's picture: ``samples_final.png`` or ``samples_step000250.png``."""
    return SURFACE if final else f"samples_step{step:06d}.png"


def grid_picture(step: int, final: bool) -> str:
    """An image evaluation's sample grid: ``grid_final.png`` or ``grid_step000250.png``."""
    return GRID if final else f"grid_step{step:06d}.png"
