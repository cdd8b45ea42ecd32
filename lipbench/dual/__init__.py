"""The dual task, in one place: train only a critic to maximise E_P[f] - E_Q[f] for a fixed
pair (P, Q) whose Wasserstein-1 distance is known, and measure how close it gets.

==================================  ==========================================================
:mod:`lipbench.dual.pairs`          the pairs (P, Q), their splits and random streams (``pair=``)
:mod:`lipbench.dual.task`           the task: one critic step, :class:`~lipbench.dual.task.DualTask`,
                                    ``train`` (``task=dual``)
:mod:`lipbench.dual.evaluation`     the held-out estimate against the exact W1 (closed form or
                                    cached exact OT), the critic's value surface
:mod:`lipbench.metrics.dual`        its metrics (estimate, standard error, tightness, time to
                                    95%), plug-ins of the metric catalog, so they live there
:mod:`lipbench.metrics.dual_direction`  the critic's gradient direction against the shift
:mod:`lipbench.report.dual_table`   the report's dual table (it reads run records only)
==================================  ==========================================================

The task runs through the same driver as the GAN (:func:`lipbench.train.driver.drive`): the
run record, resume, stop signals and the constraint hooks are shared. This package sits
above :mod:`lipbench.train` in the layers (``pyproject.toml``); its ``__init__`` imports
nothing, so that the config's checks can build a pair without loading the task.
"""
