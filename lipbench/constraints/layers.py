"""Which critic layers a weight constraint acts on, including layers that already carry
a parametrization (so that constraints stack: ``constraint=[bjorck,sn_exact]``)."""

from torch import nn
from torch.nn.utils import parametrize


def constrained_layers(critic: nn.Module):
    """Every sub-module whose ``weight`` has at least 2 dimensions: a plain parameter, or
    a parametrized weight (its effective value is what the next constraint sees)."""
    for module in critic.modules():
        if parametrize.is_parametrized(module, "weight"):
            if module.parametrizations.weight.original.dim() >= 2:
                yield module
            continue
        w = getattr(module, "weight", None)
        if isinstance(w, nn.Parameter) and w.dim() >= 2:
            yield module
