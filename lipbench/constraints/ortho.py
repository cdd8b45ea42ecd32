"""``ortho``: orthogonal regularization β·Σ_layers ‖WᵀW − I‖²_F (Brock et al. 2017,
"Neural photo editing with introspective adversarial networks"; BigGAN's β = 1e-4).

Every critic layer with a weight of 2 or more dimensions contributes. A conv kernel is
reshaped to out × (in·kh·kw), like spectral normalization. The Gram matrix is taken on
the smaller side (W Wᵀ when out < in, else Wᵀ W): a wide matrix can have orthonormal
rows but never orthonormal columns, so this is the only side that can reach zero.
The penalty uses the effective weight (after any parametrization such as ``sn``) and
does not depend on the data.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params
from lipbench.constraints.checks import close, expect, seeded
from lipbench.constraints.layers import constrained_layers
from lipbench.errors import require


@dataclass
class OrthoParams(Params):
    weight: float = 1e-4

    def check(self, path):
        require(self.weight, f"{path}.weight", at_least=0)


def gram_deviation(weight: torch.Tensor) -> torch.Tensor:
    """‖G − I‖²_F with G the smaller Gram matrix of ``weight`` reshaped to out × rest."""
    w = weight.reshape(weight.shape[0], -1)
    gram = w @ w.T if w.shape[0] < w.shape[1] else w.T @ w
    eye = torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype)
    return (gram - eye).pow(2).sum()


@CONSTRAINTS.register("ortho")
class OrthogonalRegularization(Constraint):
    name = "ortho"
    Params = OrthoParams

    def penalty(self, critic, real, fake):
        terms = [gram_deviation(m.weight) for m in constrained_layers(critic)]
        if not terms:
            return None
        return self.params.weight * torch.stack(terms).sum()

    @classmethod
    def check_property(cls):
        """β·Σ‖G − I‖²_F with G each weight's smaller Gram matrix, in numpy (a conv reshaped
        to out × rest); orthonormal weights pay nothing."""
        with seeded(0):
            net = nn.Sequential(nn.Conv2d(3, 2, 2), nn.Flatten(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 1))
        expected = 0.0
        for layer in (net[0], net[2], net[4]):
            m = layer.weight.detach().double().numpy().reshape(layer.weight.shape[0], -1)
            g = m @ m.T if m.shape[0] < m.shape[1] else m.T @ m  # 2x12 -> 2x2, 5x8 -> 5x5, 1x5 -> 1x1
            expected += ((g - np.eye(len(g))) ** 2).sum()
        x = torch.zeros(1, 3, 3, 3)
        value = cls.build(weight=1e-4).penalty(net, x, x).item()
        expect(close(value, 1e-4 * expected), f"ortho penalty {value} != {1e-4 * expected} by hand")
        with seeded(0), torch.no_grad():
            for layer in (net[0], net[2], net[4]):
                nn.init.orthogonal_(layer.weight)
        value = cls.build().penalty(net, x, x).item()
        expect(close(value, 0.0, abs_tol=1e-9), f"ortho penalises orthonormal weights ({value})")
