"""Hydra discovers sweepers only under the ``hydra_plugins`` package: this is lipbench's
study sweeper's entry (``hydra/sweeper=study``, conf/hydra/sweeper/study.yaml). The
protocol lives in :mod:`lipbench.study`; it is imported when the sweeper is used, so that
Hydra's plugin scan stays cheap."""

from typing import Any, List

from hydra.plugins.sweeper import Sweeper


class StudySweeper(Sweeper):
    """Two phases per group: search (settings drawn by Optuna's RandomSampler), then reruns
    of the chosen setting with fresh seeds. See :mod:`lipbench.study`."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.hydra_context = None
        self.config = None
        self.launcher = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: List[str]) -> Any:
        from lipbench.study.sweeper import run_study

        return run_study(self, arguments)
