"""Hydra callback: write the report at the end of every ``-m`` sweep.

Register it in conf/config.yaml::

    hydra:
      callbacks:
        report:
          _target_: lipbench.report.callback.ReportCallback

The report goes to ``<hydra.sweep.dir>/report/`` (``hydra.callbacks.report.plots=false``: the
tables only; ``~hydra.callbacks.report``: no report). Its table (with the significance rule),
the cross-data-set ranking and, when runs did not converge, a plain-words warning are
printed. The callback never raises: a failure is printed as one line and the sweep's exit
status is unchanged.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from hydra.experimental.callback import Callback


class ReportCallback(Callback):
    """Runs :func:`lipbench.report.report` on the sweep dir after a multirun."""

    def __init__(
        self,
        enabled: bool = True,
        subdir: str = "report",
        metrics: Optional[Sequence[str]] = None,
        quiet: bool = False,
        alpha: Optional[float] = None,
        plots: bool = True,
    ) -> None:
        self.enabled = enabled
        self.subdir = subdir
        self.metrics = list(metrics) if metrics else None
        self.quiet = quiet
        self.alpha = alpha  # None: the runs' eval.alpha
        self.plots = plots  # false: the tables only (as lipbench-report --no-plots)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if not self.enabled:
            return
        try:
            sweep_dir = str(config.hydra.sweep.dir)
            name = None
            try:
                name = config.get("name")
            except Exception:
                pass
            from lipbench.report import report

            out_dir = os.path.join(sweep_dir, self.subdir)
            report(
                sweep_dir,
                out_dir,
                name=str(name) if name else None,
                quiet=self.quiet,
                metrics=self.metrics,
                alpha=self.alpha,
                plots=self.plots,
            )
        except Exception as exc:  # never fail a finished sweep because of its report
            msg = " ".join(str(exc).split())  # one line, even for multi-line OmegaConf errors
            print(f"lipbench report failed ({type(exc).__name__}: {msg}); rerun: lipbench-report <sweep dir>")
