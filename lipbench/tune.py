"""Search spaces for Hydra's Optuna sweeper (``hydra/sweeper=optuna``, conf/experiment/tune_*.yaml).

:func:`lr_and_penalty_weight` is a define-by-run search space
(``hydra.sweeper.custom_search_space``), called once per trial. Every method gets the
same relative budget around its own starting point:

* ``optim.lr``, log-uniform in [lr / SPAN, lr * SPAN] around the learning rate the run
  would use (under ``optim=paper`` the method's published one);
* for every constraint whose parameters include a penalty ``weight``,
  ``constraint.<name>.weight``, log-uniform in [weight / SPAN, weight * SPAN] around its
  configured weight. A constraint without a penalty (clip, sn, ...) tunes the lr only.

Which constraints have a weight is read from their ``Params`` dataclasses, never from
their names. Keys that the study already samples (``hydra.sweeper.params`` or a sweep on
the command line) are left to it; so is everything when the constraint itself is swept.
"""

from __future__ import annotations

import dataclasses

from omegaconf import DictConfig

# how far each tuned value may move from its starting point, as a factor either way
SPAN = 10.0


def penalty_weights(cfg: DictConfig) -> dict:
    """``{"constraint.<name>.weight": weight}`` for every constraint of ``cfg`` with a penalty weight."""
    from lipbench.constraints import CONSTRAINTS

    out = {}
    for name, node in (cfg.constraint or {}).items():
        fields = {f.name: f for f in dataclasses.fields(CONSTRAINTS.get(name).Params)} if name in CONSTRAINTS else {}
        if "weight" in fields:
            out[f"constraint.{name}.weight"] = float((node or {}).get("weight", fields["weight"].default))
    return out


def starting_point(cfg: DictConfig) -> dict:
    """The values the search is centred on: the run's lr and each penalty weight."""
    from lipbench.config import resolve_optim

    return {"optim.lr": float(resolve_optim(cfg)["lr"]), **penalty_weights(cfg)}


def lr_and_penalty_weight(cfg: DictConfig, trial) -> None:
    """Suggest the lr and every penalty weight for ``trial`` (Optuna's define-by-run API)."""
    if "constraint" in trial.params:
        return  # the study picks the method; the keys to tune depend on it (tune one method per study)
    for key, centre in starting_point(cfg).items():
        if key not in trial.params and key not in trial.user_attrs and centre > 0:
            trial.suggest_float(key, centre / SPAN, centre * SPAN, log=True)
