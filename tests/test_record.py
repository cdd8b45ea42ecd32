"""lipbench.record: the run record's files, readers and writers, the typed summary, and
what a record says about its metrics (with the declarations of the records of before)."""

import json
import os
import subprocess
import sys

import pytest

from lipbench import record
from lipbench.record import MetricInfo, merge, metric_info_of
from lipbench.record.legacy import LEGACY_METRIC_INFO
from report_fixtures import make_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_importing_the_record_loads_neither_torch_nor_torch_fidelity():
    code = (
        "import sys, lipbench.record, lipbench.record.legacy; "
        "print(sorted(m for m in ('torch', 'torch_fidelity', 'lipbench.train') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_json_stays_valid_with_non_finite_values_and_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / record.SUMMARY
    record.write_json(path, {"a": float("nan"), "b": [float("inf"), 1.5], "c": {"d": -float("inf")}})
    assert json.loads(path.read_text()) == {"a": "nan", "b": ["inf", 1.5], "c": {"d": "-inf"}}

    def fail(f):
        f.write("{half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        record.atomic_write(path, fail)
    assert json.loads(path.read_text())["b"] == ["inf", 1.5]
    assert [p.name for p in tmp_path.iterdir()] == [record.SUMMARY]  # no temporary left behind


def test_read_jsonl_skips_torn_and_foreign_lines_and_stops_at_max_step(tmp_path):
    path = tmp_path / record.METRICS
    assert record.read_jsonl(path) == []  # no file yet: no rows
    for row in ({"step": 10, "w1": 0.5}, {"step": 20, "w1": float("nan")}):
        record.append_jsonl(path, row)
    with open(path, "a") as f:
        f.write('[1, 2]\n{"no_step": 1}\n{"step": 30, "w1": 0.2')  # not rows, then a torn last line
    assert record.read_jsonl(path) == [{"step": 10, "w1": 0.5}, {"step": 20, "w1": "nan"}]
    assert [r["step"] for r in record.read_jsonl(path, max_step=15)] == [10]
    record.write_jsonl(path, record.read_jsonl(path, max_step=15))
    assert path.read_text() == '{"step": 10, "w1": 0.5}\n'


def test_summary_reads_a_record_back_to_the_same_object(tmp_path):
    run_dir = make_run(tmp_path, "gp", 3, metric_info={"w1": "lower"})
    raw = record.read_summary_dict(run_dir)
    summary = record.read_summary(run_dir)
    assert summary.status == record.COMPLETED and summary.seed == 3 and summary.final["w1"] == raw["final"]["w1"]
    assert summary.to_dict() == raw


def test_summary_of_a_sparse_record_takes_defaults_and_keeps_unknown_keys():
    """A rejected sweep trial's record (status, error, config) and a key no version knows."""
    s = record.Summary.from_dict(
        {"status": "failed", "error": "ConfigError: x", "config": {"seed": 4}, "final": [1], "future_key": 1}
    )
    assert (s.seed, s.final, s.diverged, s.run_id) == (4, {}, None, None)
    assert s.extra == {"future_key": 1} and s.to_dict()["future_key"] == 1


def test_a_record_from_before_the_machine_field_loads_and_is_written_back_as_it_was(tmp_path):
    run_dir = make_run(tmp_path, "gp", 3)
    raw = record.read_summary_dict(run_dir)
    assert "machine" not in raw  # the fixture writes the layout of the records before it
    summary = record.read_summary(run_dir)
    assert summary.machine is None and summary.status == record.COMPLETED
    assert summary.to_dict() == raw
    assert record.Summary.from_dict({**raw, "machine": "x"}).machine is None  # not a mapping: unknown


def test_machine_names_the_cpu_and_never_raises_without_proc(monkeypatch):
    from lipbench.record import provenance

    info = provenance.machine()
    assert json.loads(json.dumps(info)) == info and info["cpu"] and info["cpu_count"] >= 1
    assert provenance.machine() == info  # read once, the same each time
    assert provenance._cpu_model("/nonexistent/cpuinfo") == (
        provenance.platform.processor() or provenance.platform.machine() or None
    )
    monkeypatch.setattr(provenance.os, "cpu_count", lambda: 1 / 0)
    provenance._host.cache_clear()
    try:
        assert provenance.machine()["cpu_count"] is None
    finally:
        provenance._host.cache_clear()


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "no summary.json (found metrics.jsonl)"),
        ("{", "summary.json is not valid JSON"),
        ("[1]", "summary.json is not valid JSON: expected an object, got list"),
        (
            '{"status": "paused"}',
            "summary.json has status='paused'; expected one of completed, diverged, failed, running",
        ),
    ],
)
def test_unreadable_summaries_give_one_reason(tmp_path, content, reason):
    (tmp_path / record.METRICS).write_text('{"step": 0}\n')
    if content is not None:
        (tmp_path / record.SUMMARY).write_text(content)
    with pytest.raises(record.RecordError) as e:
        record.read_summary_dict(tmp_path)
    assert str(e.value).startswith(reason) and "\n" not in str(e.value)


def test_recorded_metric_info_wins_and_older_records_get_the_declarations_of_their_time(tmp_path):
    new = record.read_summary_dict(make_run(tmp_path, "gp", 0, dirname="new", metric_info={"w1": "higher"}))
    old = record.read_summary_dict(make_run(tmp_path, "gp", 1, dirname="old"))
    assert metric_info_of(new) == {"w1": MetricInfo("w1", "higher")}
    assert metric_info_of(old) == LEGACY_METRIC_INFO
    broken = {"diagnostics": {record.METRIC_INFO: {"w1": {"better": "sideways"}}}}
    assert metric_info_of(broken) == LEGACY_METRIC_INFO  # a malformed entry is not trusted


def test_merge_keeps_every_runs_order():
    def infos(*names):
        return {n: MetricInfo(n, None) for n in names}

    merged = merge([infos("w1", "modes", "grad", "lip"), infos("fid", "kid", "grad", "lip"), infos("lip", "extra")])
    assert list(merged) == ["w1", "modes", "fid", "kid", "grad", "lip", "extra"]
    first = merge([{"x": MetricInfo("x", "lower")}, {"x": MetricInfo("x", "higher", table=True)}])["x"]
    assert first.better == "lower" and first.table  # the first direction; shown if any run shows it


def test_prefix_entries_cover_their_names_and_the_longest_wins():
    infos = {
        "fid_*": MetricInfo("fid_*", "lower"),
        "fid_floor_*": MetricInfo("fid_floor_*", None),
        "w1": MetricInfo("w1", "lower"),
    }
    assert record.lookup(infos, "fid_domain").better == "lower"
    assert record.lookup(infos, "fid_floor_domain").better is None
    assert record.lookup(infos, "w1_floor") is None


def test_the_legacy_declarations_agree_with_the_metric_plugins():
    """Every metric a record of before could hold is declared today with the same direction
    and target (the frozen table must not say otherwise for a record of either age)."""
    from lipbench.metrics import catalog
    from lipbench.report.metric_book import OLD_NAMES

    for name, old in LEGACY_METRIC_INFO.items():
        if name.endswith("*") or name == "it_per_s":
            continue
        now = catalog.info(OLD_NAMES.get(name, name))  # a renamed metric: declared under its new name
        assert now is not None and (now.better, now.target) == (old.better, old.target), name
    assert catalog.info("fid_excess_inception").better == LEGACY_METRIC_INFO["fid_excess_*"].better


def test_file_names_are_the_ones_the_writers_use():
    assert record.samples_picture(250, False) == "samples_step000250.png"
    assert record.samples_picture(250, True) == record.SURFACE == "samples_final.png"
    assert record.grid_picture(7, False) == "grid_step000007.png" and record.grid_picture(7, True) == record.GRID
    assert set(record.COMPACT) <= set(record.RUN_MARKERS) <= set(record.RECORD_FILES)
