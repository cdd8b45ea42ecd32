"""The run record has one owner: statuses and file names come only from lipbench.record, and
summary.json is written only by lipbench.record.write_summary."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import lipbench
from conftest import FAST_2D, compose_spec
from lipbench import record
from lipbench.record import io as record_io

PACKAGE = Path(lipbench.__file__).parent
RECORD = PACKAGE / "record"
WRITERS = {"write_json", "atomic_write", "write_text", "open", "dump", "write_summary"}


def _modules():
    return [p for p in sorted(PACKAGE.rglob("*.py")) if RECORD not in p.parents]


def _status_literals(tree: ast.AST):
    """String constants equal to a status that are not a dict key or a subscript (a field or
    column of that name, such as a summary's ``diverged`` or a table's ``completed`` count)."""
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys.update(id(k) for k in node.keys if k is not None)
        elif isinstance(node, ast.Subscript):
            keys.add(id(node.slice))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in record.STATUSES and id(node) not in keys:
            yield node.lineno, node.value


def test_no_module_outside_the_record_spells_a_status():
    found = [
        f"{p.relative_to(PACKAGE)}:{line}: {value!r}"
        for p in _modules()
        for line, value in _status_literals(ast.parse(p.read_text()))
    ]
    assert not found, "use lipbench.record's COMPLETED / DIVERGED / FAILED / RUNNING:\n" + "\n".join(found)


def test_the_status_check_finds_a_spelt_status():
    spelt = 'if summary["status"] == "diverged":\n    summary.update(status="failed")\n'
    assert [v for _, v in _status_literals(ast.parse(spelt))] == ["diverged", "failed"]
    assert not list(_status_literals(ast.parse('summary["diverged"] = {"completed": 1}')))


def _file_names(tree: ast.AST):
    """String constants that spell one of the run record's own files."""
    names = (record.SUMMARY, record.METRICS, record.CHECKPOINT, record.LOG, record.SAMPLES)
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in names]


def test_no_module_outside_the_record_spells_a_record_file_name():
    found = [f"{p.relative_to(PACKAGE)}:{line}" for p in _modules() for line in _file_names(ast.parse(p.read_text()))]
    assert not found, "use lipbench.record's SUMMARY / METRICS / CHECKPOINT / LOG / SAMPLES:\n" + "\n".join(found)
    assert _file_names(ast.parse('open(d / "summary.json")')) == [1]  # the check can fail


def _summary_writes(tree: ast.AST):
    """Calls of a writer whose arguments name summary.json (``SUMMARY`` or the literal)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if func not in WRITERS:
            continue
        for arg in node.args:
            for sub in ast.walk(arg):
                if (isinstance(sub, ast.Name) and sub.id == "SUMMARY") or (
                    isinstance(sub, ast.Attribute) and sub.attr == "SUMMARY"
                ):
                    yield node.lineno
                elif isinstance(sub, ast.Constant) and sub.value == "summary.json":
                    yield node.lineno


def test_no_module_outside_the_record_writes_summary_json():
    found = [
        f"{p.relative_to(PACKAGE)}:{line}" for p in _modules() for line in _summary_writes(ast.parse(p.read_text()))
    ]
    assert not found, "write summary.json with lipbench.record.write_summary:\n" + "\n".join(found)
    spelt = "record.write_json(run_dir / record.SUMMARY, summary)\nopen(d / 'summary.json', 'w')"
    assert list(_summary_writes(ast.parse(spelt))) == [1, 2]  # the check can fail


def test_a_run_writes_its_summary_only_through_write_summary(tmp_path, monkeypatch):
    """Every write of summary.json during a run (start, evaluations, end) comes from
    record.write_summary, and each leaves a record that the typed Summary reads back."""
    writes, real = [], record_io.atomic_write

    def spy(path, write, mode="w"):
        if Path(path).name == record.SUMMARY:
            import inspect

            callers = [f.function for f in inspect.stack()[1:4]]
            writes.append("write_summary" in callers)
        return real(path, write, mode)

    monkeypatch.setattr(record_io, "atomic_write", spy)
    from lipbench.train.loop import train

    summary = train(compose_spec(*FAST_2D), tmp_path)
    assert writes and all(writes), writes
    on_disk = json.loads((tmp_path / record.SUMMARY).read_text())
    assert on_disk["status"] == summary["status"] == record.COMPLETED
    assert record.Summary.from_dict(on_disk).to_dict() == on_disk
