"""Metrics as plug-ins: one registration is enough for a metric to be selected with
``eval.metrics``, computed by a training run, recorded with its direction, and reported by a
report that never sees its code; the selection does not change the other metrics' numbers."""

import numpy as np
import pytest

from conftest import FAST_2D, compose_cfg, compose_spec, rejected_in_process, untimed
from lipbench import record
from lipbench.errors import ConfigError, require
from lipbench.metrics import catalog
from lipbench.record.metric_info import HIGHER
from lipbench.report.cli import main as report_main
from lipbench.train.loop import train

TOY = "toy_x_mean"
DEFAULTS_2D = ["w1", "modes", "critic_gap", "lipschitz"]


def toy_x_mean(ev, params):
    """The mean first coordinate of the generated points that the picture's samples hold."""
    return {TOY: float(ev.fake[: len(ev.real), 0].mean())}


@pytest.fixture
def toy_metric():
    """A metric registered from this module (not a default), removed again after the test."""
    catalog.register_metric(
        "toy",
        kinds=("toy2d",),
        default=False,
        outputs=[catalog.output(TOY, HIGHER, "mean x of the generated points", table=True)],
    )(toy_x_mean)
    yield "toy"
    catalog.unregister("toy")


def _rows(run_dir):
    return [untimed(r) for r in record.read_jsonl(run_dir / record.METRICS)]


def test_a_toy_metric_is_computed_recorded_and_reported_with_its_direction(tmp_path, toy_metric):
    run_dir = tmp_path / "sweep" / "toy_run"
    summary = train(compose_spec(*FAST_2D, "constraint=gp", f"eval.metrics=[{','.join(DEFAULTS_2D)},toy]"), run_dir)
    assert summary["status"] == "completed", summary.get("error")
    # computed at every evaluation; the final value is the mean x of the points the run saved
    assert [TOY in r for r in _rows(run_dir)] == [True, True]
    saved = np.load(run_dir / record.SAMPLES)["fake"]
    assert summary["final"][TOY] == pytest.approx(float(saved[:, 0].mean()), rel=1e-5, abs=1e-6)
    info = summary["diagnostics"][record.METRIC_INFO]
    assert info[TOY] == {"better": "higher", "target": None, "table": True}
    assert info["w1"]["better"] == "lower" and info["converged"]["better"] == "higher"

    # the report, once no code declares the toy metric any more, reads it from the record (that
    # the report loads no torch and no training code: tests/test_report_cli.py, in a fresh process)
    catalog.unregister("toy")
    assert TOY not in {o.name for m in catalog.metrics(selectable=False) for o in m.outputs}
    out = tmp_path / "report"
    assert report_main([str(tmp_path / "sweep"), "--out", str(out), "--no-plots", "--quiet"]) == 0
    header = next(line for line in (out / "table_full.md").read_text().splitlines() if line.startswith("| method"))
    assert f"{TOY} ↑" in header and "w1 ↓" in header and "modes ↑" in header
    columns = (out / "table.csv").read_text().splitlines()[0].split(",")
    assert f"{TOY}_mean" in columns and f"{TOY}_tied_best" in columns


def test_the_selection_changes_no_other_metric_and_its_order_does_not_matter(tmp_path):
    default = train(compose_spec(*FAST_2D, "seed=3"), tmp_path / "default")
    chosen = train(
        compose_spec(*FAST_2D, "seed=3", "eval.metrics=[lipschitz,critic_gap,modes,w1]"), tmp_path / "chosen"
    )
    assert untimed(default["final"]) == untimed(chosen["final"])
    assert _rows(tmp_path / "default") == _rows(tmp_path / "chosen")
    fewer = train(compose_spec(*FAST_2D, "seed=3", "eval.metrics=[w1]"), tmp_path / "fewer")
    assert {"modes", "critic_gap", "lip_upper"}.isdisjoint(fewer["final"])
    assert fewer["final"]["w1"] == default["final"]["w1"]  # the same generated points
    assert list(fewer["diagnostics"][record.METRIC_INFO])[:4] == ["w1", "w1_floor", "w1_floor_std", "w1_excess"]


def test_metrics_of_another_data_kind_are_skipped_and_the_primary_metric_is_required(tmp_path):
    assert catalog.selection("toy2d", ["fidelity", "w1"]) == [catalog.get("w1")]
    with pytest.raises(ConfigError, match=r"eval.metrics=\[lipschitz\]: a toy2d run needs w1"):
        train(compose_spec(*FAST_2D, "eval.metrics=[lipschitz]"), tmp_path / "run", raise_errors=True)


# every registered metric, sorted, as the error lists them (a new metric module adds itself here)
ALLOWED = ", ".join(sorted(catalog.names()))


@pytest.mark.parametrize(
    "value, message",
    [
        ("[w1,foo]", f"eval.metrics=foo: unknown; allowed: {ALLOWED}"),
        ("[]", "eval.metrics=[]: expected a non-empty list"),
    ],
)
def test_a_bad_metric_selection_is_one_line(value, message):
    with pytest.raises(ConfigError) as e:
        compose_cfg(f"eval.metrics={value}")
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_a_bad_metric_name_exits_2_with_one_line(tmp_path, capsys):
    code, lines = rejected_in_process(
        ["eval.metrics=[foo]", "train.iterations=1", f"hydra.run.dir={tmp_path / 'run'}"], capsys
    )
    assert code == 2
    assert lines == [f"lipbench: config error: eval.metrics=foo: unknown; allowed: {ALLOWED}"]
    assert {"w1", "modes", "fidelity", "dual"} <= set(catalog.names())


def test_every_metric_declares_what_the_catalog_needs():
    """Every registered metric applies to a known kind, names its columns once, and has
    params that build from their defaults."""
    seen = {}
    for metric in catalog.metrics(selectable=False):
        name = metric.name
        assert set(metric.kinds) <= set(catalog.KINDS) and metric.outputs, name
        for out in metric.outputs:
            assert out.name not in seen, f"{out.name} declared by {seen.get(out.name)} and {name}"
            seen[out.name] = name
        if metric.params is not None:
            metric.params()  # the defaults pass the params' own checks


def test_the_config_schema_declares_every_eval_key_with_the_same_default():
    """The evaluators' and metrics' ``eval.*`` keys are the ones the config accepts, with the
    same defaults: the config builds its eval schema from them."""
    import dataclasses

    from lipbench.config_schemas import EvalSchema, eval_schema
    from lipbench.evaluate.metric_set import eval_fields

    def _default(f):
        return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default

    schema = {f.name: f for f in dataclasses.fields(eval_schema())}
    own = {f.name for f in dataclasses.fields(EvalSchema)}
    assert set(schema) == own | set(eval_fields())
    for name, f in eval_fields().items():
        assert _default(schema[name]) == _default(f), name


def test_a_metric_parameter_is_an_eval_key_with_nothing_else_to_edit(tmp_path):
    """A metric registered with a params dataclass: its key is typed, range-checked and given
    to the metric, with no edit to the config."""
    from dataclasses import dataclass

    @dataclass
    class ToyParams:
        toy_scale: float = 2.0

        def __post_init__(self):
            require(self.toy_scale, "eval.toy_scale", at_least=0)

    def scaled(ev, params):
        return {TOY: params.toy_scale * float(ev.fake[: len(ev.real), 0].mean())}

    catalog.register_metric(
        "toy",
        kinds=("toy2d",),
        default=False,
        params=ToyParams,
        outputs=[catalog.output(TOY, HIGHER, "scaled mean x of the generated points", table=True)],
    )(scaled)
    try:
        selected = f"eval.metrics=[{','.join(DEFAULTS_2D)},toy]"
        assert compose_cfg(selected).eval.toy_scale == 2.0
        with pytest.raises(ConfigError, match="eval.toy_scale"):
            compose_cfg(selected, "eval.toy_scale=abc")
        # its range, declared only in its __post_init__, is checked when the config is validated
        with pytest.raises(ConfigError, match=r"^eval\.toy_scale=-1\.0: must be >= 0$"):
            compose_cfg(selected, "eval.toy_scale=-1")
        run_dir = tmp_path / "run"
        summary = train(compose_spec(*FAST_2D, selected, "eval.toy_scale=3"), run_dir)
        assert summary["status"] == "completed", summary.get("error")
        saved = np.load(run_dir / record.SAMPLES)["fake"]
        assert summary["final"][TOY] == pytest.approx(3 * float(saved[:, 0].mean()), rel=1e-5, abs=1e-6)
    finally:
        catalog.unregister("toy")
