"""The notebooks run top to bottom (nbclient) against a small results folder made by report()."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

from lipbench.report import report
from report_fixtures import make_sweep

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")


def _outputs(nb, output_type):
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
            if o.get("output_type") == output_type]


@pytest.mark.parametrize("name,sweep,n_figures", [
    # histories, final, samples_2d, grad norms, layer norms, settings, budget, lipschitz
    ("toy2d.ipynb", dict(methods=("gp", "sn"), seeds=(0, 1), presets=("A", "B")), 8),
    # no 2-D samples and no swept hyper-parameter: histories, final, grad/layer norms, lipschitz
    ("images.ipynb", dict(methods=("clip", "sn"), seeds=(0,), datas=("digits",)), 5),
])
def test_notebook_runs_clean(tmp_path, monkeypatch, name, sweep, n_figures):
    results = tmp_path / "results" / name.split(".")[0]
    make_sweep(tmp_path / "sweep", **sweep)
    report(tmp_path / "sweep", results, quiet=True, plots=False)
    monkeypatch.setenv("LIPBENCH_RESULTS", str(results))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": NOTEBOOKS}}).execute()
    assert not _outputs(nb, "error")
    images = [o for o in _outputs(nb, "display_data") if "image/png" in o.get("data", {})]
    text = "".join(o.get("text", "") for o in _outputs(nb, "stream"))
    assert f"read from {results}" in text
    assert len(images) == n_figures
    markdown = "".join(o["data"].get("text/markdown", "") for o in _outputs(nb, "display_data"))
    assert "1-Lipschitz?" in markdown  # the Lipschitz verdict table is shown
    primary = "fid_domain" if name == "images.ipynb" else "w1"
    assert f"{primary} rank |" in markdown and "mean rank over the data sets" in markdown  # the ranking is shown
    assert "Welch" in markdown  # the bold's test is stated under the table
