"""ReportCallback: a tiny Hydra app swept with -m leaves <sweep_dir>/report/table.md behind."""

import subprocess
import sys
import textwrap

from omegaconf import OmegaConf

from lipbench.report.callback import ReportCallback
from report_fixtures import make_run

APP = """
import json, os
import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg):
    out = HydraConfig.get().runtime.output_dir
    config = OmegaConf.to_container(cfg, resolve=True)
    summary = {
        "lipbench_version": "0.1.0", "status": "completed",
        "run_id": "lr%s_seed%s" % (cfg.optim.lr, cfg.seed), "method": "+".join(cfg.constraint),
        "config": config, "overrides": list(HydraConfig.get().overrides.task),
        "step": 10, "iterations": 10, "final": {"w1": cfg.optim.lr * 100 + cfg.seed, "modes": 8,
                                         "converged": float(cfg.optim.lr < 0.005)},
        "diagnostics": {"layers": [], "grad_norms": {}}, "diverged": None, "error": None,
        "wall_time_s": 1.0, "it_per_s": 10.0, "seed": cfg.seed, "device": "cpu",
    }
    tmp = os.path.join(out, "summary.json.tmp")
    with open(tmp, "w") as f:
        json.dump(summary, f)
    os.replace(tmp, os.path.join(out, "summary.json"))


if __name__ == "__main__":
    main()
"""

CONFIG = """
name: cbtest
seed: 0
constraint:
  gp: {weight: 10.0}
optim: {lr: 0.001}
hydra:
  callbacks:
    report:
      _target_: lipbench.report.callback.ReportCallback
      metrics: [w1, modes]
"""


def test_callback_writes_report_after_multirun(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text(textwrap.dedent(CONFIG))
    (tmp_path / "app.py").write_text(APP)
    sweep = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "app.py", "-m", "optim.lr=0.001,0.01", "seed=0,1", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    table_md = sweep / "report" / "table_full.md"  # every column; table.md has the headline
    assert table_md.is_file(), proc.stdout[-2000:]
    rows = [line for line in table_md.read_text().splitlines() if line.startswith("| gp")]
    assert len(rows) == 2  # one row per swept lr, seeds pooled
    assert any("0.001" in r for r in rows) and any("0.01 " in r or "0.01|" in r for r in rows)
    assert all("|             2 |" in r for r in rows)  # n_completed = 2 seeds each
    assert "Table: " in proc.stdout and "\ngp " in proc.stdout  # the headline is printed at the end
    assert list((sweep / "report" / "plots").glob("*.png"))  # plots by default
    assert "Ranking over 1 data set(s):" in proc.stdout and "Welch" in proc.stdout
    # the lr=0.01 runs did not converge: the sweep's printout says so in plain words
    assert "WARNING: 1 of 2 rows have runs that did not converge (gp (0.01): 0/2 converged)" in proc.stdout
    with open(sweep / "report" / "table.csv") as f:
        assert "cfg.optim.lr" in f.readline()


def _sweep_cfg(sweep_dir):
    return OmegaConf.create({"name": "x", "hydra": {"sweep": {"dir": str(sweep_dir)}}})


def test_callback_writes_the_report_in_process_and_disabled_writes_nothing(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    for seed in (0, 1):
        make_run(sweep, method="gp", seed=seed)
    ReportCallback(enabled=False).on_multirun_end(_sweep_cfg(sweep))
    assert not (sweep / "report").exists() and capsys.readouterr().out == ""
    ReportCallback(metrics=["w1"], quiet=True, plots=False).on_multirun_end(_sweep_cfg(sweep))
    out = capsys.readouterr().out
    assert "lipbench report failed" not in out, out
    assert not (sweep / "report" / "plots").exists()  # plots=False: the tables only
    rows = [r for r in (sweep / "report" / "table_full.md").read_text().splitlines() if r.startswith("| gp")]
    assert len(rows) == 1 and "|             2 |" in rows[0]  # both seeds of the one method


def test_a_failing_report_is_one_printed_line_not_an_exception(tmp_path, capsys, monkeypatch):
    cb = ReportCallback()
    cb.on_multirun_end(OmegaConf.create({"hydra": {}}))  # no sweep dir in the config
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("lipbench report failed (ConfigAttributeError: ")

    def broken(*args, **kwargs):
        raise RuntimeError("disk\nfull")

    monkeypatch.setattr("lipbench.report.report", broken)
    make_run(tmp_path / "sweep", method="gp", seed=0)
    cb.on_multirun_end(_sweep_cfg(tmp_path / "sweep"))
    assert capsys.readouterr().out.strip().splitlines() == [
        "lipbench report failed (RuntimeError: disk full); rerun: lipbench-report <sweep dir>"
    ]


def test_a_sweep_without_runs_gets_an_empty_report(tmp_path, capsys):
    ReportCallback().on_multirun_end(_sweep_cfg(tmp_path / "nothing"))
    assert "No readable runs" in capsys.readouterr().out
    assert (tmp_path / "nothing" / "report" / "table.md").is_file()
