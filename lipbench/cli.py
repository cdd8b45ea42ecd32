"""The ``lipbench`` command: a Hydra app that trains one run, or a sweep with ``-m``.

A single run is composed once and validated once, into its spec, before Hydra creates its
directory (:mod:`lipbench.single_run`). Before a sweep starts, every job of the command (each
combination) is composed and validated, so a config error exits with one line and status 2,
and nothing is written into an existing run directory. Under a sweeper that picks its
trials as it goes (``hydra/sweeper=optuna``), the base job and each listed value are
checked up front; a trial that turns out invalid becomes a ``failed`` run. Each run
returns its objective to the sweeper (:func:`lipbench.sweep.sweep_objective`).
"""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from lipbench import single_run
from lipbench.compose_errors import hydra_message
from lipbench.configstore import store_configs
from lipbench.errors import ConfigError, DataError, RunDirError
from lipbench.job_config import job_config, job_config_overrides
from lipbench.record import FAILED
from lipbench.record.identity import run_dirname
from lipbench.record.verdict import BOUND_ERROR, fmt_bound, run_verdict
from lipbench.spec import RunSpec, from_config, is_hydra_override
from lipbench.sweep import record_rejected, sweep_objective, threads_for_launcher


def conf_dir() -> str:
    """The Hydra config folder: ``$LIPBENCH_CONF``, else the copy shipped in an installed
    wheel (``lipbench/conf``), else the checkout's top-level ``conf/`` (editable install)."""
    if os.environ.get("LIPBENCH_CONF"):
        return os.environ["LIPBENCH_CONF"]
    package = Path(__file__).resolve().parent
    shipped = package / "conf"
    return str(shipped if (shipped / "config.yaml").is_file() else package.parent / "conf")


CONF_DIR = conf_dir()
log = logging.getLogger("lipbench")

# Flags after which preflight validation is left to Hydra (help, info, custom config dirs).
_PASS_THROUGH = {
    "--help",
    "-h",
    "--hydra-help",
    "--version",
    "--cfg",
    "-c",
    "--info",
    "-i",
    "--shell-completion",
    "-sc",
    "--resolve",
    "--package",
    "-p",
    "--config-path",
    "-cp",
    "--config-dir",
    "-cd",
    "--experimental-rerun",
}
_FLAG_WITH_VALUE = {"--config-name", "-cn"}


OmegaConf.register_new_resolver("lipbench_dirname", lambda overrides: run_dirname(overrides or ()), replace=True)
store_configs(CONF_DIR)  # every component's schema, as Hydra structured configs


def _split_argv(argv):
    """(overrides, config_name, multirun, pass_through)."""
    overrides, config_name, multirun, i = [], "config", False, 0
    while i < len(argv):
        a = argv[i]
        if a in ("-m", "--multirun"):
            multirun = True
        elif a.split("=")[0] in _PASS_THROUGH:
            return overrides, config_name, multirun, True
        elif a in _FLAG_WITH_VALUE:
            config_name = argv[i + 1] if i + 1 < len(argv) else config_name
            i += 1
        elif a.startswith("--config-name="):
            config_name = a.split("=", 1)[1]
        elif a.startswith("-"):
            return overrides, config_name, multirun, True
        else:
            overrides.append(a)
        i += 1
    return overrides, config_name, multirun, False


def _jobs(overrides, config_name, multirun):
    """The override lists to validate before anything runs.

    A single run: its job. Under the basic sweeper: every combination it will launch.
    Under another sweeper (Optuna, ...), which picks its trials as it goes: the base job,
    and each value a sweep lists (a choice's values, an interval's two ends) one at a
    time on top of it; the trials themselves are validated when they run.
    """
    from hydra import compose
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    plain = [o for o in overrides if not is_hydra_override(o)]
    if not multirun:
        return [plain]
    base = compose(
        config_name,
        overrides=[o for o in overrides if not parser.parse_override(o).is_sweep_override()],
        return_hydra_config=True,
    )
    params = [f"{key}={value}" for key, value in (OmegaConf.select(base, "hydra.sweeper.params") or {}).items()]
    from lipbench.study.check import is_study, preflight_jobs

    if is_study(base.hydra.sweeper):  # the study's grid, and each method's search space at its extremes
        return preflight_jobs(base.hydra.sweeper, plain, base.hydra.runtime.choices.get("constraint"))
    parsed = parser.parse_overrides(params + plain)
    if str(base.hydra.sweeper.get("_target_", "")).endswith(".BasicSweeper"):
        return BasicSweeper.split_arguments(parsed, None)[0]
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    return [fixed] + [
        fixed + [f"{o.get_key_element()}={v}"] for o in parsed if o.is_sweep_override() for v in _checkable_values(o)
    ]


def _checkable_values(override):
    """The values of a sweep override that can be checked up front: every value of a choice
    or a range, the two ends of an interval."""
    from hydra.core.override_parser.types import IntervalSweep

    value = override.value()
    if isinstance(value, IntervalSweep):
        return [value.start, value.end]
    return list(override.sweep_string_iterator())


def expand_jobs(argv) -> list:
    """The override lists :func:`preflight` composes for the command ``argv``: every job of a
    single run or a basic sweep; under another sweeper, the base job and each listed value.
    Call it inside Hydra's ``initialize_config_dir`` (it composes)."""
    overrides, config_name, multirun, _ = _split_argv(argv)
    return [list(job) for job in _jobs(overrides, config_name, multirun)]


def preflight(argv) -> int:
    """Compose and validate every job; return the number of jobs checked (0 when skipped)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides, config_name, multirun, pass_through = _split_argv(argv)
    if pass_through:
        return 0
    store_configs(CONF_DIR)  # members registered since this module was imported (a plug-in, a test's)
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None, job_name="lipbench"):
        try:
            jobs = _jobs(overrides, config_name, multirun)
            for job in jobs:
                from_config(compose(config_name, overrides=job))
            key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
            parser = OverridesParser.create()
            plain = [o for o in overrides if not parser.parse_override(o).is_sweep_override()]
            hydra_cfg = compose(config_name, overrides=plain, return_hydra_config=True).hydra
            template = OmegaConf.to_container(hydra_cfg.sweep if multirun else hydra_cfg.run)["dir"]
        except (HydraException, OmegaConfBaseException) as e:
            raise ConfigError(hydra_message(e)) from None
    from lipbench.train.rundir import check_output_root

    check_output_root(template, key)  # before Hydra creates it (raises RunDirError)
    return len(jobs)


@hydra.main(version_base=None, config_path=CONF_DIR, config_name="config")
def hydra_app(cfg: DictConfig):
    """A job of a sweep (or a run that a flag left to Hydra): validated here, then trained."""
    hc = HydraConfig.get()
    multirun = hc.mode.name == "MULTIRUN"
    try:
        spec = from_config(cfg)
    except ConfigError as e:
        print(f"lipbench: config error: {e}", file=sys.stderr)
        if multirun:  # a trial a sweeper picked (Optuna): a failed run, and the sweep goes on
            record_rejected(cfg, Path(hc.runtime.output_dir), list(hc.overrides.task), e)
            return math.inf
        sys.exit(2)
    return run_spec(spec)


def run_spec(spec: RunSpec):
    """Train the run of ``spec`` in Hydra's job directory; its objective for the sweeper."""
    if spec.task == "dual":  # the critic-only dual task (conf/task/dual.yaml)
        from lipbench.dual.task import train
    else:
        from lipbench.train.loop import train

    hc = HydraConfig.get()
    multirun = hc.mode.name == "MULTIRUN"
    spec = spec.with_threads(threads_for_launcher(spec.train.threads))
    run_dir = Path(hc.runtime.output_dir)
    try:
        # a single run re-raises after recording `failed`; a sweep records it and goes on
        summary = train(spec, run_dir, overrides=list(hc.overrides.task), raise_errors=not multirun)
    except (RunDirError, DataError, ConfigError) as e:
        print(f"lipbench: error: {e}", file=sys.stderr)
        if multirun:
            return math.inf
        sys.exit(2)
    if not multirun:
        print_run_result(summary, run_dir)
        if summary.get("status") == FAILED:
            sys.exit(1)
    return sweep_objective(summary)


def print_run_result(summary: dict, run_dir) -> None:
    """The two lines a single run ends with: its status, step and headline metrics (with the
    Lipschitz verdict when its bounds were computed), and where its record is."""
    final = summary.get("final") or {}
    shown = {
        k: final[k]
        for k in (
            "w1",
            "modes",
            "hq_pct",
            "fid_domain",
            "is_domain",
            "grad_interp_mean",
            "sigma_max",
            "dual_estimate",
            "w1_true",
            "dual_tightness",
            "lip_upper",
        )
        if isinstance(final.get(k), (int, float))
    }
    metrics = ", ".join(f"{k}={fmt_bound(v, 4) if k == 'lip_upper' else format(v, '.4g')}" for k, v in shown.items())
    verdict = run_verdict(final.get("lip_lower"), final.get("lip_upper"))
    if verdict is not None:
        metrics += f" (Lipschitz: {verdict.upper() if verdict == BOUND_ERROR else verdict})"
    print(f"{summary.get('method')}: {summary.get('status')} at step {summary.get('step')}; {metrics}")
    print(f"Run record: {run_dir} (summary.json, metrics.jsonl, pictures, checkpoint.pt)")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    shown = job_config_overrides(argv)
    try:
        if shown is not None:  # --cfg job: the values the run will use, not the composed placeholders
            print(OmegaConf.to_yaml(job_config(CONF_DIR, shown)), end="")
            return
        overrides, config_name, multirun, pass_through = _split_argv(argv)
        if not (multirun or pass_through):  # one run: composed once, validated once
            single_run.run(CONF_DIR, config_name, overrides, run_spec)
            return
        preflight(argv)
    except ConfigError as e:
        print(f"lipbench: config error: {e}", file=sys.stderr)
        sys.exit(2)
    except RunDirError as e:
        print(f"lipbench: error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.argv = [sys.argv[0]] + argv
    hydra_app()


if __name__ == "__main__":
    main()
