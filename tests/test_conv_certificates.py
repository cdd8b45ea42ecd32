"""The exact, certified conv norms (lipbench.metrics.conv_gram, lipbench.metrics.certify)
and the circulant embeddings, against the dense matrix of each layer (built by applying
the layer to every basis vector) and its SVD, computed here without the project's code."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from lipbench.metrics import certify
from lipbench.metrics.conv_gram import conv_geometry, conv_grams, exact_conv_norm, pad_amounts
from lipbench.metrics.lipschitz_ops import circular_conv_norm, conv_norm_certificate, embedding_grids
from lipbench.models.dcgan import DCGANCritic
from lipbench.models.sngan_cnn import SNGANCritic

GEOMETRIES = [
    (dict(kernel_size=4, stride=2, padding=1), (3, 8, 8)),
    (dict(kernel_size=3, stride=1, padding=1), (3, 7, 5)),
    (dict(kernel_size=3, stride=1, padding=2, dilation=2, groups=3), (3, 8, 8)),
    (dict(kernel_size=5, stride=1, padding=2), (3, 3, 3)),  # kernel larger than the map
    (dict(kernel_size=(2, 3), stride=(2, 1), padding=(0, 1)), (3, 6, 5)),
    (dict(kernel_size=3, stride=2, padding=1, padding_mode="reflect"), (3, 7, 7)),
    (dict(kernel_size=3, stride=1, padding=2, padding_mode="replicate"), (3, 5, 6)),
    (dict(kernel_size=3, stride=2, padding=1, padding_mode="circular"), (3, 6, 6)),
    (dict(kernel_size=3, stride=1, padding="same", dilation=2), (3, 9, 7)),
    (dict(kernel_size=4, stride=2, padding=1), (3, 2, 2)),  # the last conv of a critic: tiny map
]


def _dense(conv: nn.Conv2d, shape) -> torch.Tensor:
    """The float64 matrix of ``conv`` without bias on inputs of ``shape``."""
    n = int(np.prod(shape))
    twin = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=False,
        padding_mode=conv.padding_mode,
    ).double()
    with torch.no_grad():
        twin.weight.copy_(conv.weight.double())
        return twin(torch.eye(n, dtype=torch.float64).reshape(n, *shape)).reshape(n, -1).T


def _sigma(conv, shape) -> float:
    return float(torch.linalg.svdvals(_dense(conv, shape))[0])


@pytest.mark.parametrize("kw, shape", GEOMETRIES)
@pytest.mark.parametrize("c_out", [3, 12])
def test_certified_conv_norm_is_the_dense_sigma_from_above(kw, shape, c_out):
    torch.manual_seed(c_out)
    conv = nn.Conv2d(3, c_out, **kw)
    truth = _sigma(conv, shape)
    bound, estimate, vector, side = exact_conv_norm(conv.weight, shape, **conv_geometry(conv))
    assert truth <= bound <= truth * (1 + 1e-8)
    assert estimate == pytest.approx(truth, rel=1e-9)
    if conv.groups == 1:  # the vector is a top singular vector: right (input side) or left (output side)
        a = _dense(conv, shape)
        v = torch.as_tensor(vector.copy()).reshape(-1)
        gain = (a @ v).norm() if side == "input" else (a.T @ v).norm()
        assert float(gain) == pytest.approx(truth, rel=1e-6)


def test_the_certificate_holds_whatever_the_estimate(monkeypatch):
    """The Lanczos value only proposes mu; the Cholesky test decides. A wrong estimate costs
    tightness (a low one: more rungs; a high one: a looser bound), never soundness."""
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, 1, 1)
    shape = (4, 6, 6)
    truth = _sigma(conv, shape) ** 2
    real = certify.top_eigenpair
    for factor in (0.3, 0.7, 0.999, 1.5):
        monkeypatch.setattr(certify, "top_eigenpair", lambda g, v0=None, f=factor: (real(g)[0] * f, real(g)[1]))
        (gram,), _, _, _ = conv_grams(conv.weight, shape, stride=1, padding=1)
        bound, _, _ = certify.certified_top_eigenvalue(gram)
        assert bound >= truth
        assert bound <= truth * max(factor, 1) * 2.01  # the ladder stops at the first mu that passes
    monkeypatch.setattr(certify, "top_eigenpair", lambda g, v0=None: (real(g)[0] * 0.5, real(g)[1]))
    (gram,), _, _, _ = conv_grams(conv.weight, shape, stride=1, padding=1)
    assert math.isinf(certify.certified_top_eigenvalue(gram, cap=truth * 0.9)[0])  # nothing below the cap


def test_band_and_dense_storage_certify_the_same_matrix():
    torch.manual_seed(1)
    conv = nn.Conv2d(2, 3, 3, 1, 1)
    (gram,), _, _, _ = conv_grams(conv.weight, (2, 12, 12), stride=1, padding=1)
    assert gram.bw is not None and 3 * (gram.bw + 1) < gram.dim  # banded
    dense = gram.to_dense()
    a = _dense(conv, (2, 12, 12))
    gram_here = (a.T @ a).numpy()
    perm = np.arange(2 * 144).reshape(2, 144).T.reshape(-1)  # channel-major -> pixel-major
    assert np.allclose(dense.matrix, gram_here[np.ix_(perm, perm)], rtol=0, atol=1e-12)
    mu = float(np.linalg.eigvalsh(gram_here)[-1])
    for m in (gram, dense):
        assert m.shifted_is_definite(mu * (1 + 1e-6)) and not m.shifted_is_definite(mu * (1 - 1e-6))


@pytest.mark.parametrize(
    "k, s, p, n",
    [(3, 1, 1, 6), (4, 2, 1, 8), (4, 2, 1, 2), (3, 2, 1, 7), (5, 1, 2, 3), (3, 1, 0, 5), (4, 2, 2, 5), (2, 2, 0, 4)],
)
def test_every_circulant_embedding_bounds_the_zero_padded_conv(k, s, p, n):
    torch.manual_seed(k * 100 + n)
    conv = nn.Conv2d(3, 5, k, stride=s, padding=p)
    truth = _sigma(conv, (3, n, n))
    pads = pad_amounts(conv.weight, p, 1)
    grids = embedding_grids((n, n), pads, (k, k), stride=(s, s))
    assert len(grids) >= 1
    for grid in grids:
        assert circular_conv_norm(conv.weight, grid, stride=(s, s)) >= truth * (1 - 1e-9), grid


@pytest.mark.parametrize("arch", ["dcgan", "sngan_cnn"])
def test_every_conv_of_a_shipped_critic_at_16px_is_certified_within_1e_8(arch):
    torch.manual_seed(2)
    critic = DCGANCritic(1, 16, 4) if arch == "dcgan" else SNGANCritic(1, 16, 2)
    shape = (1, 16, 16)
    for conv in critic.net:
        if not isinstance(conv, nn.Conv2d):
            continue
        cert = conv_norm_certificate(conv.weight, shape, **conv_geometry(conv))
        truth = _sigma(conv, shape)
        assert cert["method"].startswith("gram certificate")
        assert truth <= cert["bound"] <= truth * (1 + 1e-8)
        assert cert["sigma_exact"] == pytest.approx(truth, rel=1e-9)
        shape = tuple(conv(torch.zeros(1, *shape)).shape[1:])
