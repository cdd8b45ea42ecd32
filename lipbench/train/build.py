"""The one way to build what a run trains from its spec (:class:`lipbench.spec.RunSpec`).

:func:`build_gan` (the GAN task: data, models, the critic wrapped by its constraints, the
loss and both optimizers) is used by the training loop, experiments/perf.py,
experiments/cost.py and the tests; :func:`build_critic` is the dual task's constrained
critic; :func:`gan_from_parts` assembles a :class:`~lipbench.train.steps.GAN` around
networks built by hand (experiments/fig1b_gradient_norms.py, property tests).

The order of the random draws (the generator's initial weights, then the critic's, then
the constraints' own state such as SN's power-iteration vectors) is part of a run's
identity: the same seed gives the same numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import torch
from torch import nn

from lipbench.constraints import build_constraints
from lipbench.constraints.base import ConstraintSet
from lipbench.data import build_data
from lipbench.errors import ConfigError
from lipbench.losses import build_loss
from lipbench.models import build_models
from lipbench.train.setup import build_optimizer
from lipbench.train.steps import GAN

if TYPE_CHECKING:
    from lipbench.spec import RunSpec


def build_gan(spec: RunSpec, device: torch.device, data=None):
    """The data and the GAN of a run's spec; ``data`` (built from ``spec.data`` if not
    given) lets callers share one data set between several GANs. On CUDA, image models use
    channels_last (NHWC, faster convolutions); ``train.precision`` and ``train.compile`` are
    passed on (see lipbench.train.steps)."""
    data = build_data(spec.data) if data is None else data
    generator, critic = build_models(spec.model, data.shape)
    constraints = build_constraints(dict(spec.constraints))
    critic = constraints.wrap(critic).to(device)
    generator = generator.to(device)
    if device.type == "cuda" and len(data.shape) == 3:
        generator, critic = (m.to(memory_format=torch.channels_last) for m in (generator, critic))
    precision, compiled = spec.train.precision, spec.train.compile
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"train.precision=bf16: {torch.cuda.get_device_name(device)} has no bfloat16; use fp32")
    gan = gan_from_parts(generator, critic, constraints, spec.optim, spec.loss, device, precision, compiled)
    return data, gan


def gan_from_parts(
    generator: nn.Module,
    critic: nn.Module,
    constraints: ConstraintSet,
    optim: Mapping,
    loss: Mapping,
    device: torch.device,
    precision: str = "fp32",
    compiled: bool = False,
) -> GAN:
    """A GAN around built networks: ``critic`` is already wrapped by ``constraints`` and both
    are on ``device``; ``optim`` is a resolved optimizer setting (see
    lipbench.train.setup.build_optimizer), ``loss`` a loss config (``{"name": ...}``).
    ``generator.z_dim`` is the noise size. A generator without parameters (a fixed source
    of fakes) gets no optimizer."""
    has_params = any(True for _ in generator.parameters())
    return GAN(
        generator=generator,
        critic=critic,
        opt_g=build_optimizer(generator.parameters(), optim) if has_params else None,
        opt_d=build_optimizer(critic.parameters(), optim),
        loss=build_loss(loss),
        constraints=constraints,
        z_dim=generator.z_dim,
        device=device,
        precision=precision,
        run_generator=torch.compile(generator) if compiled else None,
        run_critic=torch.compile(critic) if compiled else None,
    )


def build_critic(spec: RunSpec, dim: int, device):
    """The dual task's constrained critic for inputs in R^dim and its ConstraintSet. The model
    registry builds a (generator, critic) pair; only the critic is kept (never trained or saved)."""
    _, critic = build_models(spec.model, (dim,))
    constraints = build_constraints(dict(spec.constraints))
    return constraints.wrap(critic).to(device), constraints
