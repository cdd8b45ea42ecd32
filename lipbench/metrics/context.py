"""What a metric plug-in gets: the run it belongs to and the evaluation it is part of.

Evaluators build one :class:`RunContext` per run and one :class:`Evaluation` per
evaluation point, then call the selected metrics in order (see
:mod:`lipbench.metrics.catalog`). Samples are CPU tensors; the networks are in the mode the
evaluator chose (eval mode for the 2-D and dual evaluators) and must be left as they are.
A metric draws random numbers only from ``ev.rng``, never from the global streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional


@dataclass
class RunContext:
    """The parts of a run that every evaluation shares."""

    kind: str  # "toy2d", "image" or "dual"
    data: Any  # the data source (toy2d, image) or the pair (dual)
    shape: tuple  # the shape of one sample, e.g. (2,) or (1, 16, 16)
    seed: int
    device: Any
    run_dir: Path
    options: Any  # the evaluator's options: sample sizes (n_samples, w1_samples, grad_samples, ...)
    spec: Any = None  # the run's lipbench.spec.RunSpec (None outside a run)


@dataclass
class Evaluation:
    """One evaluation point.

    ``real`` and ``fake`` are float samples: on 2-D data ``eval.w1_samples`` (or more) real
    points and the generated points; on images ``eval.grad_samples`` real and generated
    images; in the dual task the held-out samples of P (``real``) and Q (``fake``).
    ``metrics`` holds what the metrics before this one computed at this evaluation.
    """

    run: RunContext
    step: int
    final: bool
    critic: Any
    real: Any
    fake: Any
    rng: Any  # the evaluation's torch.Generator
    generator: Any = None  # the generator network (None in the dual task)
    images_u8: Any = None  # images: the generated images as uint8, None when not all finite
    n_generated: Optional[int] = None  # images: how many were generated for the fidelity metrics
    critic_values: Optional[tuple] = None  # dual: (f(P), f(Q)) on the held-out samples, float64
    truth: Optional[Dict[str, Any]] = None  # dual: the exact W1 and how it was computed
    metrics: Dict[str, Any] = field(default_factory=dict)
