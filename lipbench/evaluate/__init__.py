"""Evaluators, selected by the data source's ``kind`` ("toy2d" or "image").

An evaluator is built once per run as ``cls(spec, data, run_dir, device)`` (``spec`` is the
run's :class:`lipbench.spec.RunSpec`: ``spec.eval`` its evaluation keys, ``spec.seed``) and
called at every evaluation point:

    metrics, diagnostics = evaluator.evaluate(generator, critic, step, final=False)

``metrics`` is a flat ``{name: float}`` dict computed by the metric plug-ins that
``eval.metrics`` selects (:mod:`lipbench.evaluate.metric_set`, declared in
:mod:`lipbench.metrics.catalog`); ``diagnostics`` is a JSON-able dict (per-layer norms,
raw gradient norms) that the final call stores in summary.json, with the selected
metrics' directions under ``metric_info`` (:mod:`lipbench.record.metric_info`), so that
a report reads them from the record. Evaluators also write
their pictures into ``run_dir`` and set ``picture`` to the path of the one the latest
call drew (None when it drew none); the training loop logs it to TensorBoard. They must
leave the models' training state as they found it (``train()``/``eval()`` mode,
``requires_grad``) and must not consume the training random streams: they use their own
``torch.Generator`` seeded from ``spec.seed``.

Every evaluator is an :class:`Evaluator`: besides ``evaluate`` it says which metric judges
the run (divergence, the plateau rule, the progress log line), which metric is that one's
sampling floor, and which row key makes two evaluations comparable.
"""

from pathlib import Path
from typing import Optional

from lipbench.registry import Registry

EVALUATORS = Registry("evaluator", package=__name__)  # every module of this package, imported on first lookup


class Evaluator:
    """What the training loop asks of an evaluator besides ``evaluate``."""

    primary_metric: Optional[str] = None  # judges the run: NaN = diverged; the plateau rule reads it
    floor_metric: Optional[str] = None  # the primary metric's sampling floor (the plateau rule's target)
    comparable_by: Optional[str] = None  # a row key two evaluations must share to be compared (fid_n)
    picture: Optional[Path] = None  # the picture the latest evaluation drew (logged to TensorBoard)

    @property
    def shown_metric(self) -> Optional[str]:
        """The metric of the progress line logged at every evaluation."""
        return self.primary_metric


def build_evaluator(spec, data, run_dir, device):
    """The evaluator of ``data``'s kind for the run of ``spec``."""
    return EVALUATORS.get(data.kind)(spec, data, run_dir, device)
