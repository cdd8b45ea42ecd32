"""What a run shows while it trains: the tqdm progress bar and TensorBoard (scalars and the
evaluator's picture). Nothing here touches the run record."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger("lipbench")


def progress(cfg, total: int, initial: int, method: str):
    """The progress bar: ``train.progress`` auto (only on a terminal), true or false."""
    flag = str(cfg.train.progress).lower()
    disable = (not sys.stderr.isatty()) if flag == "auto" else flag != "true"
    return tqdm(total=total, initial=initial, desc=f"{method}", disable=disable, dynamic_ncols=True, leave=False)


def tensorboard(cfg, run_dir: Path, step: int):
    """A SummaryWriter into ``run_dir/tb`` (events after ``step`` purged on resume), or None
    when ``train.tensorboard`` is off."""
    if not cfg.train.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # pragma: no cover - tensorboard is a dependency
        log.warning("tensorboard is not installed; train.tensorboard ignored")
        return None
    return SummaryWriter(str(run_dir / "tb"), purge_step=step if step else None)


def log_picture(writer, path, step: int) -> None:
    """Log the evaluator's picture of this evaluation (a PNG: the 2-D samples over the critic's
    surface, or the image grid) as the TensorBoard image ``samples`` at ``step``."""
    if path is None or not Path(path).is_file():
        return
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    writer.add_image("samples", pixels, step, dataformats="HWC")
