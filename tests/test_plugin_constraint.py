"""A constraint registered from outside the package (here: this test module) is one class:
it is picked up by the registry, the structured configs and the CLI, gets every check the
package's constraints get, and runs in an in-process sweep whose report lists it, beside a
metric registered here too (with a parameter of its own)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from conftest import CONF
from constraint_checks import (
    TINY_RUN,
    declared_property_holds,
    hooks_run_on_tiny_critics,
    tiny_run_reports_lipschitz_and_resumes,
)
from lipbench import record
from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params
from lipbench.constraints.checks import expect, mlp_critic, seeded
from lipbench.errors import require

NAME = "frobenius_cap"
# a plug-in without a yaml has no published optimizer setting: a run picks one of A..F
OPTIM = "optim=A"


@dataclass
class FrobeniusCapParams(Params):
    cap: float = 1.0  # the largest Frobenius norm a critic weight may keep

    def check(self, path):
        require(self.cap, f"{path}.cap", above=0)


class FrobeniusCap(Constraint):
    """After every critic step, each weight matrix W with ‖W‖_F > cap is scaled back to
    ‖W‖_F = cap (so its spectral norm, at most ‖W‖_F, is at most cap)."""

    name = NAME
    Params = FrobeniusCapParams

    @torch.no_grad()
    def project(self, critic):
        for m in critic.modules():
            w = getattr(m, "weight", None)
            if isinstance(w, nn.Parameter) and w.dim() >= 2:
                w.mul_((self.params.cap / w.norm()).clamp(max=1.0))

    @classmethod
    def check_property(cls):
        """Weights above the cap end exactly on it (norms by hand); those below stay as they were."""
        with seeded(0):
            critic = mlp_critic(8)
        with torch.no_grad():
            critic[0].weight.mul_(10.0)
            critic[4].weight.mul_(0.01)
        kept = critic[4].weight.clone()
        cls.build(cap=0.5).project(critic)
        norm = float(sum(v * v for v in critic[0].weight.flatten().tolist())) ** 0.5
        expect(abs(norm - 0.5) < 1e-5, f"a capped weight has Frobenius norm {norm}, not 0.5")
        expect(torch.equal(critic[4].weight, kept), "a weight below the cap was changed")


@pytest.fixture
def plugin():
    """Register the toy constraint (and its structured config) for one test, then remove it."""
    from lipbench.cli import CONF_DIR
    from lipbench.configstore import forget, store_configs

    CONSTRAINTS.register(NAME)(FrobeniusCap)
    store_configs(CONF_DIR)
    yield NAME
    CONSTRAINTS.unregister(NAME)
    forget("constraint", NAME)


def test_the_toy_constraint_needs_no_yaml_and_gets_every_check(plugin, tmp_path, monkeypatch):
    assert not (CONF / "constraint" / f"{plugin}.yaml").exists()
    declared_property_holds(FrobeniusCap)
    hooks_run_on_tiny_critics(plugin, OPTIM)
    tiny_run_reports_lipschitz_and_resumes(plugin, tmp_path, monkeypatch, OPTIM)


def test_the_toy_constraints_parameters_are_typed_and_checked(plugin):
    from lipbench.cli import preflight
    from lipbench.errors import ConfigError

    for bad, message in (
        (f"constraint.{plugin}.cap=wide", f"constraint.{plugin}.cap=wide: expected a number"),
        (f"constraint.{plugin}.cap=0", f"constraint.{plugin}.cap=0.0: must be > 0"),
    ):
        with pytest.raises(ConfigError) as err:
            preflight([f"constraint={plugin}", OPTIM, bad])
        assert str(err.value) == message


@pytest.fixture
def toy_metric():
    """A metric registered from this module, with a parameter of its own, removed after the test."""
    from lipbench.metrics import catalog
    from lipbench.record.metric_info import LOWER

    @dataclass
    class RadiusParams:
        radius_power: float = 1.0  # eval.radius_power: the mean of |x|^p

    def radius(ev, params):
        fake = ev.fake[: len(ev.real)]
        return {"toy_radius": float(fake.norm(dim=1).pow(params.radius_power).mean())}

    catalog.register_metric(
        "toy_radius",
        kinds=("toy2d",),
        default=False,
        params=RadiusParams,
        outputs=[catalog.output("toy_radius", LOWER, "mean |x|^p of the generated points", table=True)],
    )(radius)
    yield "toy_radius"
    catalog.unregister("toy_radius")


def test_an_in_process_sweep_trains_and_reports_the_toy_constraint_and_metric(
    plugin, toy_metric, tmp_path, monkeypatch
):
    from hydra.core.global_hydra import GlobalHydra

    from lipbench.cli import main

    monkeypatch.chdir(tmp_path)
    sweep = tmp_path / "sweep"
    metrics = f"eval.metrics=[w1,modes,critic_gap,lipschitz,{toy_metric}]"
    try:
        main(
            [
                "-m",
                f"constraint={plugin},none",
                OPTIM,
                "name=plugin",
                f"hydra.sweep.dir={sweep}",
                *TINY_RUN,
                metrics,
                "eval.radius_power=2",
                "hydra.callbacks.report.plots=false",  # its tables are checked here, not its plots
            ]
        )
    finally:
        GlobalHydra.instance().clear()
    summaries = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/summary.json"))]
    assert sorted(s["method"] for s in summaries) == ["frobenius_cap", "none"]
    assert all(s["status"] == "completed" for s in summaries)
    toy = next(s for s in summaries if s["method"] == plugin)
    assert toy["config"]["constraint"] == {plugin: {"cap": 1.0, "paper": None}}
    assert toy["final"]["sigma_max"] <= 1.0 + 1e-5  # each layer's spectral norm is under its Frobenius cap
    table = pd.read_csv(sweep / "report" / "table.csv")
    assert sorted(table["method"]) == ["frobenius_cap", "none"]
    # the toy metric, with its parameter from the command line: in every run and in the report with its direction
    for path in sorted(sweep.glob("*/summary.json")):
        s = json.loads(path.read_text())
        fake = np.load(path.parent / record.SAMPLES)["fake"]
        assert s["config"]["eval"]["radius_power"] == 2.0
        assert s["final"]["toy_radius"] == pytest.approx(float((fake**2).sum(axis=1).mean()), rel=1e-5)
    assert table["toy_radius_mean"].notna().all()
    full = (sweep / "report" / "table_full.md").read_text()
    header = next(line for line in full.splitlines() if line.startswith("|"))
    assert "toy_radius ↓" in header
