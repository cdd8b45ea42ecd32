"""A study, not a run: the two-phase protocol of Lucic et al. (2018) as a Hydra sweeper.

``lipbench -m experiment=study_toy2d`` (``hydra/sweeper=study``) runs, for every group of
the sweeper's grid (a method on a data set):

1. **search**: ``n_settings`` settings drawn i.i.d. from the method's declared search space
   by Optuna's seeded ``RandomSampler`` (:mod:`lipbench.study.space`), one run each;
2. **rerun**: the setting chosen by a declared rule (:mod:`lipbench.study.rule`) rerun with
   fresh seeds, disjoint from the search's.

:mod:`lipbench.study.plan` turns the config into the list of trials (their overrides and
run directories), :mod:`lipbench.study.manifest` writes ``study.json`` beside the runs, and
:mod:`lipbench.study.sweeper` launches the trials through Hydra's configured launcher
(joblib, SLURM, Ray). Everything is deterministic, so a killed study relaunched with the
same command draws the same settings and skips the runs it finished.
"""
