"""The evaluators' own ``eval.*`` keys: how many samples each evaluation draws.

Each evaluator reads its sizes through one of these dataclasses (defaults for keys a
config leaves out, ranges checked here); the metrics' keys are in their params
dataclasses (:mod:`lipbench.metrics.catalog`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lipbench.errors import require


@dataclass
class Toy2DOptions:
    n_samples: int = 2500  # generated points for modes / high-quality share and the picture
    w1_samples: int = 2000  # generated and true points for the exact W1 and the critic gap
    grad_samples: int = 256  # points for the gradient norms and Lipschitz bounds
    surface_resolution: int = 80  # grid of the critic's value surface in the picture

    def __post_init__(self):
        for key in ("n_samples", "w1_samples", "grad_samples", "surface_resolution"):
            require(getattr(self, key), f"eval.{key}", at_least=1)


@dataclass
class ImageOptions:
    fid_samples: int = 10000  # generated images at the final evaluation (and held-out images for the floor)
    fid_samples_during: int = 1000  # generated images at intermediate evaluations
    fidelity_batch_size: int = 200  # images per generator call and per feature batch
    grad_samples: int = 256  # images for the gradient norms and Lipschitz bounds

    def __post_init__(self):
        for key in ("fid_samples", "fid_samples_during", "fidelity_batch_size", "grad_samples"):
            require(int(getattr(self, key)), f"eval.{key}", at_least=2)


@dataclass
class DualOptions:
    grad_samples: int = 256  # held-out points of P and of Q for the Lipschitz bounds
    surface_resolution: int = 80  # grid of the critic's value surface (2-D pairs)

    def __post_init__(self):
        for key in ("grad_samples", "surface_resolution"):
            require(getattr(self, key), f"eval.{key}", at_least=1)
