"""One run of the ``lipbench`` command (no ``-m``), composed once and validated once.

``hydra.main`` composes a run's config twice (once to read ``hydra.mode``, once to run) and
the command's preflight composed it twice more before that. This is Hydra 1.3's run path
(``Hydra.run``) with the spec made in between: the config, Hydra's node included, is composed
once; :func:`lipbench.spec.from_config` validates it once, before Hydra creates the run
directory; Hydra's ``run_job`` then makes the directory, sets ``HydraConfig``, configures
logging and calls the task with the spec, between the callbacks' run start and end.
"""

from __future__ import annotations

import copy
from typing import Callable, Sequence

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from lipbench.compose_errors import hydra_message
from lipbench.configstore import store_configs
from lipbench.errors import ConfigError
from lipbench.spec import RunSpec, from_config


def _without_hydra(cfg: DictConfig) -> DictConfig:
    task_cfg = copy.deepcopy(cfg)
    with read_write(task_cfg), open_dict(task_cfg):
        del task_cfg["hydra"]
    return task_cfg


def _compose(hydra_app, config_name: str, overrides: Sequence[str]) -> DictConfig:
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf.errors import OmegaConfBaseException

    try:
        cfg = hydra_app.compose_config(
            config_name=config_name,
            overrides=[*overrides, "hydra.mode=RUN"],
            with_log_configuration=False,  # configured once the spec is valid (run)
            run_mode=RunMode.RUN,
        )
    except (HydraException, OmegaConfBaseException) as e:
        raise ConfigError(hydra_message(e)) from None
    return cfg


def run(conf_dir: str, config_name: str, overrides: Sequence[str], task: Callable[[RunSpec], object]) -> object:
    """Run ``task(spec)`` as Hydra runs a task function, in the run directory of
    ``hydra.run.dir``. A config error (ConfigError) or an unusable output root (RunDirError)
    is raised before any directory exists. ``task`` names the job as ``hydra.main`` would."""
    from hydra._internal.callbacks import Callbacks
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import (
        create_automatic_config_search_path,
        detect_calling_file_or_module_from_task_function,
        detect_task_name,
        run_and_report,
    )
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import configure_log, run_job
    from hydra.types import HydraContext

    from lipbench.train.rundir import check_output_root

    store_configs(conf_dir)  # members registered since the last call (a plug-in, a test's)
    calling_file, calling_module = detect_calling_file_or_module_from_task_function(task)
    search_path = create_automatic_config_search_path(calling_file, calling_module, conf_dir)
    hydra_app = Hydra.create_main_hydra2(detect_task_name(calling_file, calling_module), search_path)
    try:
        cfg = _compose(hydra_app, config_name, overrides)
        HydraConfig.instance().set_config(cfg)
        spec = from_config(_without_hydra(cfg))
        check_output_root(OmegaConf.to_container(cfg.hydra.run)["dir"], "hydra.run.dir")  # raises RunDirError
        # Hydra's own logging, as Hydra.run sets it up when it composes: only for a valid spec,
        # so that a rejected command leaves the process's logging as it found it
        configure_log(cfg.hydra.hydra_logging, cfg.hydra.verbose)
        callbacks = Callbacks(cfg)
        callbacks.on_run_start(config=cfg, config_name=config_name)
        context = HydraContext(config_loader=hydra_app.config_loader, callbacks=callbacks)
        ret = run_job(
            hydra_context=context,
            task_function=lambda _cfg: task(spec),
            config=cfg,
            job_dir_key="hydra.run.dir",
            job_subdir_key=None,
            configure_logging=True,
        )
        callbacks.on_run_end(config=cfg, config_name=config_name, job_return=ret)
        return run_and_report(lambda: ret.return_value)  # a failed task: Hydra's report, exit 1
    finally:
        GlobalHydra.instance().clear()
