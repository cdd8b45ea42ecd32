"""notebooks/dual.ipynb runs top to bottom against a small dual results folder and redraws
the dual table and figures."""

import os

import nbformat
from nbclient import NotebookClient

from lipbench.dual import task as dual
from lipbench.report import report

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")
TINY = [
    "task=dual",
    "model.hidden=16",
    "train.batch_size=32",
    "train.iterations=20",
    "train.progress=false",
    "train.threads=1",
    "train.tensorboard=false",
    "eval.every=10",
    "eval.grad_samples=32",
    "eval.surface_resolution=12",
    "pair.n_heldout=200",
]


def test_the_dual_notebook_redraws_the_table_and_figures(spec_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("LIPBENCH_CACHE", str(tmp_path / "cache"))
    for name, extra in [
        ("g2", ["pair=gaussian", "pair.dim=2"]),
        ("g4", ["pair=gaussian", "pair.dim=4"]),
        ("e8", ["pair=eight_gaussians", "pair.n_ot=100", "pair.ot_repeats=2"]),
    ]:
        spec = spec_factory(*TINY, *extra, "constraint=sn_exact")
        assert dual.train(spec, tmp_path / "sweep" / name, raise_errors=True)["status"] == "completed"
    results = tmp_path / "results" / "dual"
    report(tmp_path / "sweep", results, quiet=True, plots=False)
    assert (results / "dual.md").exists()
    assert sum(1 for _ in results.glob("runs/*/final_samples.npz")) == 1  # the surface run's samples travel along
    monkeypatch.setenv("LIPBENCH_RESULTS", str(results))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(os.path.join(NOTEBOOKS, "dual.ipynb"), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": NOTEBOOKS}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "3 dual runs" in text
    markdown = "".join(o["data"].get("text/markdown", "") for o in outputs if o.get("output_type") == "display_data")
    assert "## gaussian" in markdown and "## eight_gaussians" in markdown
    images = [o for o in outputs if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) == 3  # estimate/W1 vs dimension, curves, value surfaces
