"""The dataclass schemas of the config's shared groups and top-level scalars: ``train``,
``optim``, ``eval`` (:func:`eval_schema`: :class:`EvalSchema` plus the keys that the
evaluators and the registered metrics declare), a constraint's ``paper`` block and the
run's scalars. They are the one place for these keys' defaults and types;
:mod:`lipbench.configstore` stores them as Hydra structured configs and
:func:`lipbench.config.checked` checks a config against them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from lipbench.errors import require
from lipbench.metrics.convergence import DEFAULTS as CONVERGENCE_DEFAULTS

OPTIMIZERS = ("adam", "rmsprop", "sgd")
PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainSchema:
    """``train``: the budget of a run and how it is recorded."""

    iterations: int = 1000  # generator iterations (each preceded by optim.n_critic critic steps)
    batch_size: int = 256
    log_every: int = 50  # running-mean losses are logged (TensorBoard) every log_every iterations
    checkpoint_every: int = 250  # checkpoint.pt is written atomically this often (0 = only at the end)
    overwrite: bool = False  # re-train even if the run directory holds a completed run / a checkpoint of it
    progress: Any = "auto"  # tqdm progress bar: auto (only on a terminal), true, false
    threads: Optional[int] = None  # torch threads (null = all cores, or cores / n_jobs under the joblib launcher)
    tensorboard: bool = True
    # forward passes in fp32, or bf16 (bfloat16 autocast: weights, gradients and optimizer state
    # stay fp32; penalties with a double backward work). Faster on GPUs with bf16 tensor cores.
    precision: str = "fp32"
    # torch.compile the generator's and critic's forward passes (penalties run eager: no double backward
    # through compiled graphs); the first iterations pay the compile time (a C++ compiler on the CPU).
    # CNNs use channels_last on CUDA either way.
    compile: bool = False

    def __post_init__(self):
        for key in ("iterations", "batch_size", "log_every"):
            require(getattr(self, key), f"train.{key}", at_least=1)
        require(self.checkpoint_every, "train.checkpoint_every", at_least=0)
        if self.threads is not None:
            require(self.threads, "train.threads", at_least=1)
        allowed = ("auto", "True", "False", "true", "false")
        require(self.progress, "train.progress", str(self.progress) in allowed, "allowed: auto, true, false")
        require(self.precision, "train.precision", self.precision in PRECISIONS, f"allowed: {', '.join(PRECISIONS)}")


@dataclass
class PaperSchema:
    """A constraint's published optimizer setting (the ``paper`` block of conf/constraint/*.yaml)."""

    optimizer: Optional[str] = None
    lr: Optional[float] = None
    betas: Optional[List[float]] = None
    n_critic: Optional[int] = None


@dataclass
class OptimSchema:
    """``optim``: its defaults are ``optim=paper``, each constraint's published setting (the
    ``paper`` block of its conf/constraint yaml; the first constraint in the list that has
    one). Any key set here overrides it; ``optim=A`` .. ``F`` (conf/optim/) are the SN-GAN
    paper's Table 1 settings, the same for every constraint."""

    preset: str = "paper"
    optimizer: Optional[str] = None  # adam, rmsprop or sgd
    lr: Optional[float] = None
    betas: Optional[List[float]] = None  # adam's two betas
    n_critic: Optional[int] = None  # critic steps per generator step
    # under optim=paper, changes to a constraint's published setting, by constraint name, e.g. the
    # WGAN-GP paper's image setting {gp: {betas: [0.0, 0.9]}} (conf/experiment/cifar10_sngan.yaml);
    # applied only when that constraint's setting is the one used, and written into its paper block
    # (each entry is checked against PaperSchema by lipbench.config.checked; typed Any here so that
    # Hydra's +optim.paper_overrides.gp.betas=... can create an entry)
    paper_overrides: Dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass
class EvalSchema:
    """``eval``'s own keys: how often a run is evaluated, which metrics, the convergence rule
    and the report's significance level. :func:`eval_schema` adds the keys that the
    evaluators' options and the registered metrics' params declare (sample sizes, metric
    parameters), with their types and defaults, so that each is declared once."""

    every: int = 250  # evaluate every `every` generator iterations and at the end (0 = only at the end)
    metrics: Optional[List[str]] = None  # null: the data kind's defaults (lipbench.metrics.catalog)
    # plateau rule (lipbench.metrics.convergence): converged when, over the last plateau_window
    # evaluations of the primary metric, the later half's mean is at most plateau_tol (relative)
    # below the earlier half's (it stopped improving) and the coefficient of variation is at most
    # plateau_cv (it is stable)
    plateau_window: int = CONVERGENCE_DEFAULTS["plateau_window"]
    plateau_tol: float = CONVERGENCE_DEFAULTS["plateau_tol"]
    plateau_cv: float = CONVERGENCE_DEFAULTS["plateau_cv"]
    # time to quality: iterations / seconds until the primary metric first came within quality_factor x its floor
    quality_factor: float = CONVERGENCE_DEFAULTS["quality_factor"]
    # significance level of the report's test over seeds (which differences get bold)
    alpha: float = 0.05

    def __post_init__(self):
        require(self.every, "eval.every", at_least=0)
        require(self.plateau_window, "eval.plateau_window", at_least=2, why="evaluations the plateau rule looks at")
        tol, cv = self.plateau_tol, self.plateau_cv
        require(tol, "eval.plateau_tol", 0 <= tol < 1, "must be in [0, 1) (a relative improvement)")
        require(cv, "eval.plateau_cv", cv > 0, "must be > 0 (a coefficient of variation)")
        require(self.quality_factor, "eval.quality_factor", at_least=1, why="times the sampling floor")
        require(self.alpha, "eval.alpha", 0 < self.alpha < 1, "must be in (0, 1) (the significance level)")


_EVAL_SCHEMAS: dict = {}


def eval_schema() -> type:
    """The ``eval`` group's schema: :class:`EvalSchema` plus every ``eval.*`` key that the
    evaluators and the registered metrics declare (one class per set of declared keys)."""
    from lipbench.evaluate.metric_set import eval_field_specs

    specs = eval_field_specs()
    key = tuple((name, repr(f.default)) for name, _, f in specs)
    if key not in _EVAL_SCHEMAS:
        _EVAL_SCHEMAS[key] = dataclasses.make_dataclass("EvalConfig", specs, bases=(EvalSchema,))
    return _EVAL_SCHEMAS[key]


@dataclass
class RunSchema:
    """The top-level scalars (their values are in conf/config.yaml, the root config)."""

    name: str = "default"
    seed: int = 0
    device: str = "auto"
