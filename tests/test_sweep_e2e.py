"""One real end-to-end sweep through the console script: four constraints, a short budget."""

import json

import pandas as pd
import torch

from conftest import FAST_2D, run_cli
from lipbench.api import load_run

# FAST_2D with the final evaluation only: the constraints' properties and the table need no other
FINAL_EVAL_ONLY = [o for o in FAST_2D if not o.startswith("eval.every=")] + ["eval.every=20"]


def test_sweep_of_the_four_constraints_ends_with_a_comparison_table(tmp_path):
    proc = run_cli(["-m", "constraint=none,clip,gp,sn", "seed=0,1", "name=e2e", *FINAL_EVAL_ONLY], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "multirun" / "e2e"
    paths = sorted(sweep.glob("*/summary.json"))
    summaries = [json.loads(p.read_text()) for p in paths]
    assert sorted(s["method"] for s in summaries) == ["clip", "clip", "gp", "gp", "none", "none", "sn", "sn"]
    assert all(len(p.with_name("metrics.jsonl").read_text().splitlines()) == 1 for p in paths)  # one evaluation
    assert all(s["status"] == "completed" for s in summaries)
    by_method = {s["method"]: s for s in summaries if s["seed"] == 0}
    run_dirs = {s["method"]: p.parent for s, p in zip(summaries, paths) if s["seed"] == 0}
    # the constraints behave as their definitions say, in what the sweep trained
    assert by_method["clip"]["final"]["sigma_max"] < 1.0  # clipped weights: small layers
    assert abs(by_method["sn"]["final"]["sigma_max"] - 1.0) < 0.1
    c = by_method["clip"]["config"]["constraint"]["clip"]["c"]
    clipped = torch.cat([p.flatten() for p in load_run(run_dirs["clip"]).critic.parameters()])
    assert clipped.abs().max().item() <= c + 1e-6  # every saved critic weight lies in [-c, c]
    free = torch.cat([p.flatten() for p in load_run(run_dirs["none"]).critic.parameters()])
    assert free.abs().max().item() > c  # ...which the unconstrained critic's do not
    # the table is printed and written beside the runs, through the report's code path
    table = pd.read_csv(sweep / "report" / "table.csv")
    assert sorted(table["method"]) == ["clip", "gp", "none", "sn"]
    assert (table["n_completed"] == 2).all()
    assert "Table:" in proc.stdout and "table.md" in proc.stdout
    assert (sweep / "report" / "table.md").exists()
