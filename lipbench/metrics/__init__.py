"""Metrics. Each metric is a plug-in registered in :mod:`lipbench.metrics.catalog` by the
module that computes it; evaluators run the selected ones (``eval.metrics``)."""
