"""Pairs of distributions (P, Q) with a known Wasserstein-1 distance, for the dual task.

A pair is selected by ``pair.name`` (``conf/pair/*.yaml``):

* ``gaussian`` -- P = N(δ, Σ), Q = N(0, Σ) in ``dim`` dimensions, ‖δ‖ = ``shift``.
  W1 = ‖δ‖ in closed form for every Σ: the coupling x -> x - δ costs ‖δ‖, and the
  1-Lipschitz critic f(x) = <x, δ/‖δ‖> attains it (E_P f - E_Q f = ‖δ‖).
* ``noisy`` -- P = a data set (``pair.base``, any 2-D or image data set of the ``data`` group,
  images flattened to vectors in [-1, 1]), Q = P + N(0, noise² I). W1 has no closed
  form; the dual evaluator solves it by exact OT.

``sample(split, n, generator, coupled)`` returns n draws of P and n of Q. Independent
draws (``coupled=False``) feed training. Coupled draws share their randomness -- Q's
point is P's point moved by -δ, or P's point plus its noise -- so each side still has
the right law, E f(P) - E f(Q) is unchanged, but the paired differences f(p_i) - f(q_i)
vary far less: the held-out estimate and the OT truth use them.

Every pair draws from two *splits*: ``train`` (the critic's training batches) and
``heldout`` (the estimate and the OT truth). For generated data both splits use the same
law and differ only in their random streams, which are separate ``torch.Generator``s
seeded from disjoint seed sequences (:func:`stream_seed`). For a finite data set the
held-out split is its test split, so held-out images never appear in a training batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch

from lipbench.errors import ConfigError, require
from lipbench.registry import Registry

PAIRS = Registry("pair")
SPLITS = ("train", "heldout")
MIN_OT_SAMPLES = 100  # below this the empirical OT's upward bias swamps the answer
MAX_OT_SAMPLES = 10_000  # the n x n cost matrix (float64) is then 800 MB
MIN_HELDOUT = 100


def stream_seed(*keys) -> int:
    """A 63-bit torch seed from a tuple of ints / strings, via numpy's SeedSequence.

    Different key tuples give independent streams; the training stream (seeded with the
    plain run seed) and every stream made here never share a seed in practice, because
    these seeds are hashes of tagged tuples, not small integers.
    """
    ints = [k if isinstance(k, int) else int.from_bytes(str(k).encode(), "little") % 2**32 for k in keys]
    return int(np.random.SeedSequence(ints).generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclass
class Pair:
    """Two samplers on R^dim. ``sample(split, n, generator, coupled) -> (p, q)``, float32 CPU tensors."""

    label: str  # the pair's name in tables: "gaussian", "eight_gaussians", "digits", ...
    dim: int
    sampler: Callable
    w1_closed_form: Optional[float] = None  # None: solve by exact OT
    info: dict = field(default_factory=dict)

    def sample(self, split: str, n: int, generator: torch.Generator, coupled: bool = False):
        if split not in SPLITS:
            raise ValueError(f"split {split!r}: allowed {SPLITS}")
        return self.sampler(split, n, generator, coupled)

    @property
    def is_2d(self) -> bool:
        return self.dim == 2 and self.info.get("kind") == "noisy"

    def describe(self) -> dict:
        return {"label": self.label, "dim": self.dim, "w1_closed_form": self.w1_closed_form, **self.info}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(lo: int):
    """A predicate: an integer (not a bool) >= ``lo``."""
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= lo


def _known_keys(node, allowed) -> None:
    unknown = sorted(set(node) - set(allowed))
    if unknown:
        raise ConfigError(
            f"pair.{unknown[0]}: unknown key for pair.name={node.get('name')}; allowed: {', '.join(sorted(allowed))}"
        )


def _random_spd(dim: int, gen: torch.Generator) -> torch.Tensor:
    """Q diag(λ) Qᵀ with λ log-spaced in [1/4, 4] and Q a random rotation (fixed by ``gen``)."""
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    lam = (
        torch.logspace(math.log10(0.25), math.log10(4.0), dim, dtype=torch.float64)
        if dim > 1
        else torch.ones(1, dtype=torch.float64)
    )
    return (q * lam) @ q.T


def _positive(value) -> bool:
    return _number(value) and value > 0


# (key, predicate, what is allowed, why) of each pair's keys, checked by lipbench.errors.require
HELDOUT = (
    "n_heldout",
    _integer(MIN_HELDOUT),
    f"must be an integer >= {MIN_HELDOUT}",
    "held-out samples for the estimate and its error bar",
)
GAUSSIAN_RULES = (
    ("dim", _integer(1), "must be an integer >= 1", "the dimension of P and Q"),
    ("shift", _positive, "must be > 0", "W1 = shift; a zero shift makes W1 = 0 and leaves no estimate/W1 ratio"),
    HELDOUT,
    ("cov", lambda v: v in ("identity", "random"), "allowed: identity, random", ""),
)
NOISY_RULES = (
    ("noise", _positive, "must be > 0", "W1 = 0 without noise, which leaves no estimate/W1 ratio"),
    HELDOUT,
    (
        "n_ot",
        _integer(MIN_OT_SAMPLES),
        f"must be an integer >= {MIN_OT_SAMPLES}",
        "samples of each side per exact OT solve of W1",
    ),
    ("n_ot", lambda v: v <= MAX_OT_SAMPLES, f"must be <= {MAX_OT_SAMPLES}", "the OT cost matrix is n_ot²"),
    ("ot_repeats", _integer(2), "must be an integer >= 2", "independent OT solves, for the truth's sampling error"),
)


def _require_keys(node, rules) -> None:
    for key, ok, allowed, why in rules:
        require(node.get(key), f"pair.{key}", ok, allowed, why=why)


@PAIRS.register("gaussian")
def gaussian_pair(node) -> Pair:
    """N(δ, Σ) against N(0, Σ); δ = shift · u with u a unit vector drawn from ``pair_seed``."""
    _known_keys(node, ("name", "dim", "shift", "cov", "pair_seed", "n_heldout"))
    _require_keys(node, GAUSSIAN_RULES)
    dim, shift = node["dim"], float(node["shift"])
    gen = torch.Generator().manual_seed(stream_seed(int(node.get("pair_seed", 0)), "gaussian-pair", dim))
    u = torch.randn(dim, generator=gen, dtype=torch.float64)
    delta = (shift * u / u.norm()).float()
    chol = None
    if node["cov"] == "random":
        chol = torch.linalg.cholesky(_random_spd(dim, gen)).float()

    def sample(split, n, g, coupled):
        zp = torch.randn(n, dim, generator=g)
        zq = zp if coupled else torch.randn(n, dim, generator=g)
        if chol is not None:
            zp, zq = zp @ chol.T, zq @ chol.T
        return zp + delta, zq

    info = {"kind": "gaussian", "shift": shift, "cov": node["cov"], "delta": delta.tolist()}
    return Pair(label="gaussian", dim=dim, sampler=sample, w1_closed_form=float(delta.double().norm()), info=info)


def _base_samplers(base):
    """(train sampler, held-out sampler) of flat vectors, each ``(n, generator) -> (n, d)``."""
    if base.kind == "toy2d":
        return base.sample, base.sample  # an infinite law: the splits differ by their generators
    if base.test_images is None or len(base.test_images) == 0:
        raise ConfigError(f"pair.base.name={base.name}: has no test split for held-out samples")

    def from_images(images):
        flat = images.reshape(len(images), -1)

        def sample(n, g):
            idx = torch.randint(len(flat), (n,), generator=g)
            return flat[idx].float().div_(127.5).sub_(1.0)

        return sample

    return from_images(base.train_images), from_images(base.test_images)


@PAIRS.register("noisy")
def noisy_pair(node) -> Pair:
    """A data set P against Q = P + N(0, noise² I) (coupled: Q's point is P's point plus noise)."""
    from omegaconf import OmegaConf

    from lipbench.data import build_data, checked

    _known_keys(node, ("name", "base", "noise", "pair_seed", "n_heldout", "n_ot", "ot_repeats"))
    _require_keys(node, NOISY_RULES)
    noise = float(node["noise"])
    if not node.get("base") or not node["base"].get("name"):
        raise ConfigError("pair.base: required for pair.name=noisy (a data set config, e.g. /data@base: digits)")
    base = OmegaConf.create(node["base"])
    checked(base, "pair.base")  # its keys' types and ranges
    base = build_data(base)
    train, heldout = _base_samplers(base)
    dim = int(np.prod(base.shape))
    samplers = {"train": train, "heldout": heldout}

    def sample(split, n, g, coupled):
        draw = samplers[split]
        p = draw(n, g)
        q = p if coupled else draw(n, g)
        return p, q + noise * torch.randn(q.shape, generator=g)

    info = {"kind": "noisy", "noise": noise, "base": base.describe()}
    return Pair(label=str(base.name), dim=dim, sampler=sample, info=info)


def build_pair(node) -> Pair:
    """Build (and validate) the pair named by ``node.name`` (``node`` is the ``pair`` config node)."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=True)
    if not isinstance(node, dict):
        raise ConfigError(f"pair={node}: must be a pair config (pair=gaussian, eight_gaussians, ...)")
    name = node.get("name")
    if name not in PAIRS:
        raise ConfigError(f"pair.name={name}: unknown; allowed: {', '.join(PAIRS.names())}")
    return PAIRS.get(name)(node)
