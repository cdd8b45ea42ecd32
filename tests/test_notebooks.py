"""The notebooks: each .ipynb agrees with its jupytext source (notebooks/NAME.py, percent
format), and runs top to bottom (nbclient) against a small results folder made by report().
tests/test_dual_notebook.py runs dual.ipynb."""

import glob
import os

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from lipbench.report import report
from report_fixtures import make_sweep

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")
PAIRED = ["comparison", "dual"]  # notebooks/NAME.py + notebooks/NAME.ipynb
SYNC = "edit notebooks/NAME.py (or the .ipynb), then run: jupytext --sync notebooks/*.ipynb"


def _is_jupytext_source(path):
    with open(path, encoding="utf-8") as f:
        return "# %%" in f.read()


def test_every_notebook_is_a_pair_of_ipynb_and_percent_source():
    ipynbs = {os.path.basename(p)[: -len(".ipynb")] for p in glob.glob(os.path.join(NOTEBOOKS, "*.ipynb"))}
    sources = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(NOTEBOOKS, "*.py")) if _is_jupytext_source(p)}
    assert ipynbs == sources == set(PAIRED), f"unpaired notebooks: {sorted(ipynbs ^ sources)}; {SYNC}"


def _cells(nb):
    return [(cell.cell_type, cell.source) for cell in nb.cells]


@pytest.mark.parametrize("name", PAIRED)
def test_the_ipynb_has_the_cells_of_its_source(name):
    source = jupytext.read(os.path.join(NOTEBOOKS, f"{name}.py"))  # jupytext's conversion of the percent file
    committed = nbformat.read(os.path.join(NOTEBOOKS, f"{name}.ipynb"), as_version=4)
    want, have = _cells(source), _cells(committed)
    differ = [i for i, (a, b) in enumerate(zip(want, have)) if a != b]
    assert len(want) == len(have) and not differ, (
        f"notebooks/{name}.ipynb differs from notebooks/{name}.py: {len(have)} vs {len(want)} cells"
        + (f", first at cell {differ[0]}:\n{have[differ[0]]!r}\n!=\n{want[differ[0]]!r}" if differ else "")
        + f"\n{SYNC}"
    )


def _outputs(nb, output_type):
    return [
        o
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.get("output_type") == output_type
    ]


@pytest.mark.parametrize(
    "name,sweep,n_figures",
    [
        # histories, final, samples_2d, grad norms, layer norms, settings, budget, lipschitz
        ("toy2d", dict(methods=("gp", "sn"), seeds=(0, 1), presets=("A", "B")), 8),
        # no 2-D samples and no swept hyper-parameter: histories, final, grad/layer norms, lipschitz
        ("digits", dict(methods=("clip", "sn"), seeds=(0,), datas=("digits",)), 5),
    ],
)
def test_the_comparison_notebook_runs_clean_on_each_kind_of_results(tmp_path, monkeypatch, name, sweep, n_figures):
    results = tmp_path / "results" / name
    make_sweep(tmp_path / "sweep", **sweep)
    report(tmp_path / "sweep", results, quiet=True, plots=False)
    monkeypatch.setenv("LIPBENCH_RESULTS", str(results))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(os.path.join(NOTEBOOKS, "comparison.ipynb"), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": NOTEBOOKS}}).execute()
    assert not _outputs(nb, "error")
    images = [o for o in _outputs(nb, "display_data") if "image/png" in o.get("data", {})]
    text = "".join(o.get("text", "") for o in _outputs(nb, "stream"))
    assert f"read from {results}" in text
    assert len(images) == n_figures
    markdown = "".join(o["data"].get("text/markdown", "") for o in _outputs(nb, "display_data"))
    assert "1-Lipschitz?" in markdown  # the Lipschitz verdict table is shown
    primary = "fid_domain" if name == "digits" else "w1"
    assert f"{primary} rank |" in markdown and "mean rank over the data sets" in markdown  # the ranking is shown
    assert "Welch" in markdown  # the bold's test is stated under the table
