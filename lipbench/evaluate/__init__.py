"""Evaluators, selected by the data source's ``kind`` ("toy2d" or "image").

An evaluator is built once per run as ``cls(cfg, data, run_dir, device)`` (``cfg`` is the
whole resolved config) and called at every evaluation point:

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
``torch.Generator`` seeded from ``cfg.seed``.
"""

from lipbench.registry import Registry

EVALUATORS = Registry("evaluator", package=__name__)  # every module of this package, imported on first lookup


def build_evaluator(cfg, data, run_dir, device):
    return EVALUATORS.get(data.kind)(cfg, data, run_dir, device)
