"""Image generators and critics: output shapes at every supported resolution and channel
count, no BatchNorm in critics, and the SN-GAN standard CNN's published layer list."""

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from lipbench.errors import ConfigError
from lipbench.models import build_models

SMALL = {"dcgan": 8, "sngan_cnn": 8, "resnet": 16}


@pytest.mark.parametrize("name", ["dcgan", "sngan_cnn", "resnet"])
@pytest.mark.parametrize("resolution", [16, 32, 48, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_no_batchnorm_in_critic(name, resolution, channels):
    cfg = OmegaConf.create({"name": name, "z_dim": 16, "width": SMALL[name]})
    g, d = build_models(cfg, (channels, resolution, resolution))
    assert g.z_dim == 16
    z = torch.randn(2, 16)
    x = g(z)
    assert x.shape == (2, channels, resolution, resolution)
    assert x.abs().max() <= 1.0  # tanh output
    out = d(x)
    assert out.shape in ((2,), (2, 1))
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())


@pytest.mark.parametrize("name", ["dcgan", "sngan_cnn", "resnet"])
def test_bad_resolution_and_shape(name):
    cfg = OmegaConf.create({"name": name, "z_dim": 16, "width": 8})
    with pytest.raises(ConfigError, match="resolution"):
        build_models(cfg, (3, 36, 36) if name != "sngan_cnn" else (3, 20, 20))
    with pytest.raises(ConfigError, match=name):
        build_models(cfg, (2,))


def test_sngan_standard_cnn_layers():
    """The critic is exactly the 7 convolutions of SN-GAN Table 3 plus one linear layer."""
    g, d = build_models(OmegaConf.create({"name": "sngan_cnn"}), (3, 32, 32))
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    got = [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs]
    assert got == [(64, 3, 1), (64, 4, 2), (128, 3, 1), (128, 4, 2), (256, 3, 1), (256, 4, 2), (512, 3, 1)]
    acts = [m for m in d.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(acts) == 7 and all(a.negative_slope == 0.1 for a in acts)
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 1 and linears[0].in_features == 512 * 4 * 4
    # generator: linear to 4x4x512, deconvs to 256, 128, 64, then conv3 to 3 channels
    assert g.fc.out_features == 4 * 4 * 512
    deconvs = [m.out_channels for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert deconvs == [256, 128, 64]


def test_parameter_counts_scale_with_width():
    """Halving the width divides the (conv-dominated) critic parameter count by about 4."""
    for name, w in (("dcgan", 64), ("sngan_cnn", 64), ("resnet", 128)):
        full = build_models(OmegaConf.create({"name": name, "width": w}), (3, 32, 32))
        half = build_models(OmegaConf.create({"name": name, "width": w // 2}), (3, 32, 32))
        n_full = sum(p.numel() for p in full[1].parameters())
        n_half = sum(p.numel() for p in half[1].parameters())
        assert 1e5 < n_full < 1e7
        assert 3.0 < n_full / n_half < 4.2
    # the WGAN-GP ResNet critic at 32 px with 128 channels has 1,053,825 parameters
    # (counted by hand from the layer list)
    _, d = build_models(OmegaConf.create({"name": "resnet", "width": 128}), (3, 32, 32))
    assert sum(p.numel() for p in d.parameters()) == 1_053_825
