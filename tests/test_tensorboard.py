"""TensorBoard: every evaluation logs the picture the evaluator drew (2-D: samples over the
critic's surface; images: the sample grid) as the image ``samples``, read back here with
TensorBoard's own EventAccumulator."""

import io

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import FAST_2D, compose_cfg
from lipbench.train.loop import train


def _images(run_dir):
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc, {
        e.step: np.asarray(Image.open(io.BytesIO(e.encoded_image_string)).convert("RGB")) for e in acc.Images("samples")
    }


def _pixels(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_each_2d_evaluation_logs_its_sample_figure(tmp_path):
    summary = train(compose_cfg(*FAST_2D, "constraint=gp", "train.tensorboard=true"), tmp_path)
    assert summary["status"] == "completed", summary.get("error")
    acc, images = _images(tmp_path)
    assert sorted(images) == [10, 20]  # eval.every=10, 20 iterations: one intermediate, one final
    assert np.array_equal(images[10], _pixels(tmp_path / "samples_step000010.png"))
    assert np.array_equal(images[20], _pixels(tmp_path / "samples_final.png"))
    assert not np.array_equal(images[10], images[20])
    assert [e.step for e in acc.Scalars("eval/w1")] == [10, 20]


def test_no_events_without_tensorboard(tmp_path):
    summary = train(compose_cfg(*FAST_2D, "constraint=none", "train.tensorboard=false"), tmp_path)
    assert summary["status"] == "completed" and not (tmp_path / "tb").exists()
