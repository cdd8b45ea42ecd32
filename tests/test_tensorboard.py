"""TensorBoard: every evaluation logs the picture the evaluator drew (2-D: samples over the
critic's surface; images: the sample grid) as the image ``samples``, and every run that ends
logs its HParams session (its overrides and final metrics); read back here with TensorBoard's
own EventAccumulator and hparams backend."""

import io
import math

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata as hparams_metadata, plugin_data_pb2

from conftest import FAST_2D, compose_spec
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
    summary = train(compose_spec(*FAST_2D, "constraint=gp", "train.tensorboard=true"), tmp_path)
    assert summary["status"] == "completed", summary.get("error")
    acc, images = _images(tmp_path)
    assert sorted(images) == [10, 20]  # eval.every=10, 20 iterations: one intermediate, one final
    assert np.array_equal(images[10], _pixels(tmp_path / "samples_step000010.png"))
    assert np.array_equal(images[20], _pixels(tmp_path / "samples_final.png"))
    assert not np.array_equal(images[10], images[20])
    assert [e.step for e in acc.Scalars("eval/w1")] == [10, 20]


def test_no_events_without_tensorboard(tmp_path):
    summary = train(compose_spec(*FAST_2D, "constraint=none", "train.tensorboard=false"), tmp_path)
    assert summary["status"] == "completed" and not (tmp_path / "tb").exists()


# --- HParams: each run's swept values and final metrics, one session per run -------------


def _hparams_plugin_data(tb_dir):
    """{tag: HParamsPluginData} of the hparams summaries in ``tb_dir``, and its final/* scalars."""
    acc = EventAccumulator(str(tb_dir), size_guidance={"scalars": 0})
    acc.Reload()
    content = acc.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
    data = {tag: plugin_data_pb2.HParamsPluginData.FromString(raw) for tag, raw in content.items()}
    finals = {tag: acc.Scalars(tag) for tag in acc.Tags()["scalars"] if tag.startswith("final/")}
    return data, finals


def _plain(value):
    """A google.protobuf.Value as the Python value it holds."""
    return getattr(value, value.WhichOneof("kind"))


def _finite_numbers(final):
    return {k: float(v) for k, v in final.items() if isinstance(v, (int, float)) and math.isfinite(v)}


# two runs of one sweep that set different keys (so a per-run experiment summary would hide one)
SWEEP = {"a": ("constraint=gp", "seed=3"), "b": ("constraint=sn", "optim.lr=3e-4", "optim.betas=[0.3,0.99]")}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    summaries = {}
    for name, overrides in SWEEP.items():
        spec = compose_spec(*FAST_2D, *overrides, "train.tensorboard=true")
        summaries[name] = train(spec, root / name, overrides=list(overrides))
        assert summaries[name]["status"] == "completed", summaries[name].get("error")
    return root, summaries


def test_a_run_logs_its_overrides_and_final_metrics_as_one_hparams_session(sweep):
    root, summaries = sweep
    final = summaries["a"]["final"]
    assert any(isinstance(v, float) and math.isnan(v) for v in final.values())  # ttq_*: the NaN case is exercised
    data, finals = _hparams_plugin_data(root / "a" / "tb")
    assert sorted(p.name for p in (root / "a" / "tb").iterdir() if p.is_dir()) == []  # no add_hparams sub-run
    # session start and end only: an experiment summary would fix the dashboard's columns to one run's keys
    assert set(data) == {hparams_metadata.SESSION_START_INFO_TAG, hparams_metadata.SESSION_END_INFO_TAG}
    start = data[hparams_metadata.SESSION_START_INFO_TAG].session_start_info
    assert {k: _plain(v) for k, v in start.hparams.items()} == {"constraint": "gp", "seed": 3.0}
    assert data[hparams_metadata.SESSION_END_INFO_TAG].session_end_info.status == api_pb2.STATUS_SUCCESS
    expected = _finite_numbers(final)
    assert {"w1", "modes", "converged", "lip_upper"} <= set(expected)
    assert set(finals) == {f"final/{k}" for k in expected}  # NaN metrics (ttq_steps, ttq_s) left out
    for k, v in expected.items():
        (event,) = finals[f"final/{k}"]
        assert event.step == summaries["a"]["step"] == 20
        assert event.value == pytest.approx(v, rel=1e-6, abs=1e-12)


def test_the_hparams_dashboard_of_a_sweep_folder_shows_every_run(sweep):
    """TensorBoard's own hparams backend over the sweep folder (what the HParams tab shows):
    one session per run, the columns the union of the runs' keys, values as the run resolved them."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import backend_context, get_experiment, list_session_groups

    root, summaries = sweep
    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(str(root))
    mux.Reload()
    tb = base_plugin.TBContext(logdir=str(root), multiplexer=mux)
    tb.data_provider = data_provider.MultiplexerDataProvider(mux, str(root))
    backend, ctx = backend_context.Context(tb), context.RequestContext()
    experiment = get_experiment.Handler(ctx, backend, "", api_pb2.GetExperimentRequest()).run()
    columns = {"constraint", "seed", "optim.lr", "optim.betas[0]", "optim.betas[1]"}
    assert {h.name for h in experiment.hparam_infos} == columns
    metrics = {m.name.tag for m in experiment.metric_infos}
    assert {f"final/{k}" for k in _finite_numbers(summaries["a"]["final"])} <= metrics
    request = api_pb2.ListSessionGroupsRequest(allowed_statuses=[api_pb2.STATUS_SUCCESS], slice_size=10)
    groups = list_session_groups.Handler(ctx, backend, "", request).run().session_groups
    shown = {g.name: {k: _plain(v) for k, v in g.hparams.items()} for g in groups}
    assert shown == {
        "a/tb": {"constraint": "gp", "seed": 3.0},
        "b/tb": {  # values as resolved (not the text "3e-4"); a list one column per entry
            "constraint": "sn",
            "seed": 0.0,
            "optim.lr": pytest.approx(3e-4),
            "optim.betas[0]": pytest.approx(0.3),
            "optim.betas[1]": pytest.approx(0.99),
        },
    }
    w1 = {g.name: next(m.value for m in g.metric_values if m.name.tag == "final/w1") for g in groups}
    assert w1 == {f"{n}/tb": pytest.approx(s["final"]["w1"], rel=1e-6) for n, s in summaries.items()}


def test_a_diverged_run_ends_its_session_as_a_failure_without_its_nan_metrics(tmp_path, monkeypatch):
    import lipbench.train.gan as gan

    monkeypatch.setattr(gan, "train_iteration", lambda *a, **k: {"loss_d": math.nan, "loss_g": 0.5, "penalty": 0.0})
    overrides = ["constraint=sn", "optim=A"]
    summary = train(compose_spec(*FAST_2D, *overrides, "train.tensorboard=true"), tmp_path, overrides=overrides)
    assert summary["status"] == "diverged"
    data, finals = _hparams_plugin_data(tmp_path / "tb")
    start = data[hparams_metadata.SESSION_START_INFO_TAG].session_start_info
    assert {k: _plain(v) for k, v in start.hparams.items()} == {"constraint": "sn", "optim": "A", "seed": 0.0}
    assert data[hparams_metadata.SESSION_END_INFO_TAG].session_end_info.status == api_pb2.STATUS_FAILURE
    assert {t: [e.value for e in es] for t, es in finals.items()} == {"final/loss_g": [0.5], "final/penalty": [0.0]}
