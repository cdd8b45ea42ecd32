"""Metrics. Each metric module declares its metrics in :mod:`lipbench.metrics.catalog`."""
