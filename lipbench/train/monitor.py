"""What a run shows while it trains: the tqdm progress bar and TensorBoard (scalars, the
evaluator's picture and, at the end, the run's HParams session). Nothing here touches the
run record."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

from tqdm import tqdm

from lipbench.record import COMPLETED

log = logging.getLogger("lipbench")


def progress(train, total: int, initial: int, method: str):
    """The progress bar: ``train.progress`` auto (only on a terminal), true or false (``train``
    is the spec's :class:`~lipbench.config_schemas.TrainSchema`)."""
    flag = str(train.progress).lower()
    disable = (not sys.stderr.isatty()) if flag == "auto" else flag != "true"
    return tqdm(total=total, initial=initial, desc=f"{method}", disable=disable, dynamic_ncols=True, leave=False)


def tensorboard(train, run_dir: Path, step: int):
    """A SummaryWriter into ``run_dir/tb`` (events after ``step`` purged on resume), or None
    when ``train.tensorboard`` is off."""
    if not train.tensorboard:
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


def log_hparams(writer, summary: dict) -> None:
    """The run's session in TensorBoard's HParams dashboard, written by its own writer into its
    own ``tb`` directory when it ends (completed or diverged): its swept values
    (:func:`swept_values`) and its final metrics as the scalars ``final/<metric>`` at the last
    step. A diverged run's session ends with status failure.

    Only the session start and end are written, not the experiment summary that
    ``SummaryWriter.add_hparams`` adds (in an extra timestamped sub-run): TensorBoard shows the
    hparams of the first experiment summary it finds only (tensorflow/tensorboard#5596), so a
    sweep whose runs set different keys would lose columns. Without one it builds the columns
    from every run's session start."""
    from torch.utils.tensorboard.summary import hparams

    metrics = final_metrics(summary.get("final"))
    _, start, _ = hparams(swept_values(summary), metrics)
    step = int(summary.get("step") or 0)
    writer.file_writer.add_summary(start, step)
    for tag, value in metrics.items():
        writer.add_scalar(tag, value, step)
    writer.file_writer.add_summary(_session_end(summary.get("status") == COMPLETED), step)


def swept_values(summary: dict) -> dict:
    """The run's task overrides as Hydra records them (``summary["overrides"]``, ``key=value``)
    with the values the run used: a config value as resolved in ``summary["config"]``, a config
    group's choice (``optim=A``, ``experiment=toy2d``) as written; plus ``constraint`` (the
    method) and ``seed``. A list of numbers is one value per entry (``optim.betas[0]``,
    ``optim.betas[1]``), so that parallel coordinates draws each as an axis. Deletions
    (``~key``) and values TensorBoard cannot show (None, NaN, inf) are left out."""
    config = summary.get("config") or {}
    values = {}
    for override in summary.get("overrides") or ():
        key, sep, text = str(override).partition("=")
        if not sep or key.startswith("~"):
            continue
        key = key.lstrip("+").split("@")[0]
        value = _select(config, key)
        if _numbers(value):  # optim.betas=[0.5,0.9]: one numeric column per entry
            values.update((f"{key}[{i}]", x) for i, x in enumerate(value))
        else:
            values[key] = text if value is None or isinstance(value, (dict, list)) else value
    values.update(constraint=summary.get("method"), seed=summary.get("seed"))
    return {k: v for k, v in ((k, _hparam(v)) for k, v in values.items()) if v is not None}


def final_metrics(final) -> dict:
    """``final/<metric>`` for each finite number (``converged``: 1.0 or 0.0) of a summary's
    ``final``. A NaN or inf metric is left out: TensorBoard then shows the run without it and
    sorts and filters it as unset."""
    return {
        f"final/{k}": float(v)
        for k, v in (final or {}).items()
        if isinstance(v, (bool, int, float)) and math.isfinite(v)
    }


def _select(config: dict, key: str):
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _numbers(value) -> bool:
    return isinstance(value, list) and bool(value) and all(type(x) in (int, float) for x in value)


def _hparam(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _session_end(success: bool):
    """The HParams session-end summary with status success or failure (torch's
    ``summary.hparams`` writes success only)."""
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS if success else api_pb2.STATUS_FAILURE)
    content = plugin_data_pb2.HParamsPluginData(session_end_info=info, version=metadata.PLUGIN_DATA_VERSION)
    plugin = SummaryMetadata.PluginData(plugin_name=metadata.PLUGIN_NAME, content=content.SerializeToString())
    value = Summary.Value(tag=metadata.SESSION_END_INFO_TAG, metadata=SummaryMetadata(plugin_data=plugin))
    return Summary(value=[value])
