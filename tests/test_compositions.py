"""Every command line the project documents composes to the run identity it had before the
components' schemas became Hydra structured configs, so committed run directories are
still recognised on resume. tests/golden/run_identities.json holds the identities of
every job (sweeps expanded, every committed run's recorded overrides), written at
533bf51 with ``python tests/compositions.py --out all.json --golden ...``. Deliberate
changes since: the digits preset's 3,200 iterations (its 12 jobs' identities), and the quick
start's three methods and two seeds (its none and seed-2 jobs now come from the README's
``constraint=none,clip,gp,sn`` and ``seed=0,1,2`` variants, with their old identities), and
experiment=cifar10_sngan's clip and sn jobs, which no longer carry a stray gp node (its gp image
setting is now ``optim.paper_overrides``; the gp jobs keep their identities), and
experiment=sngan_settings' 36 jobs, re-sized from 300 iterations at width 512 to the other 2-D
presets' 3,000 iterations at width 128 (no committed run used the old ones). Added, not changed:
the 136 runs of results/study_toy2d (their identities are the run_ids their records hold),
experiment=digits' three sn_cert jobs (the preset's fifth method), and the 15 runs of
results/mnist, the one run of results/mnist_budget and the rerun of results/cifar10_smoke
(again the run_ids of their records; the earlier cifar10_smoke record, given an absolute
data.root, is no longer committed and left the file). And eval.alpha, only the
report's significance level, is hashed as its default (lipbench.record.identity.RUN_KEYS), so the
one command that sets it has the identity of the same command without it (no committed run set it)."""

import json
from pathlib import Path

import pytest

from compositions import COMMANDS, committed_commands, compose_all

GOLDEN = json.loads((Path(__file__).parent / "golden" / "run_identities.json").read_text())
# An integer given for a float key is typed at composition now (constraint.gp.weight=1 is
# 1.0), so that command is the run its float spelling always was; the old identity of the
# integer spelling is the one change (no committed run used it).
RETYPED = {"constraint=gp constraint.gp.weight=1 seed=3": "constraint=gp constraint.gp.weight=1.0 seed=3"}
# eval.alpha leaves the identity: the run of eval.alpha=0.1 is the run without it (composed here, as
# that command is not in the golden file)
ALPHA = {
    "eval.extractors=[domain] eval.plateau_tol=0 eval.alpha=0.1": ["eval.extractors=[domain]", "eval.plateau_tol=0"],
}


def _check(result: dict) -> None:
    assert result, "nothing composed"
    changed = []
    alpha_free = compose_all([ALPHA[key] for key in set(ALPHA) & set(result)])
    for key, value in result.items():
        new = value.get("id", value.get("error"))
        expected = GOLDEN[RETYPED[key]] if key in RETYPED else GOLDEN[key]
        if key in ALPHA:
            expected = alpha_free[" ".join(ALPHA[key])]["id"]
            assert GOLDEN[key] != expected  # it was another identity before
        if new != expected:
            changed.append(f"{key or '(defaults)'}: {expected} -> {new}")
    assert not changed, "run identities changed:\n" + "\n".join(changed)
    for key in set(RETYPED) & set(result):
        assert GOLDEN[key] != GOLDEN[RETYPED[key]]  # it was another identity before


def test_the_documented_commands_keep_their_run_identities():
    """Each documented command (each sweep's first and last job), and every 25th committed run."""
    _check(compose_all(COMMANDS + committed_commands()[::25], ends_only=True))


@pytest.mark.slow  # about 850 compositions
def test_every_job_of_every_documented_sweep_and_committed_run_keeps_its_identity():
    result = compose_all(COMMANDS + committed_commands())
    assert set(result) == set(GOLDEN)
    _check(result)
