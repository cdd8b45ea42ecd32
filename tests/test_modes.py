"""models.modes.eval_mode: eval mode inside the block, every submodule's own flag after."""

import pytest
import torch
from torch import nn

from lipbench.models.modes import eval_mode


def _net():
    net = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.5), nn.Sequential(nn.Linear(4, 1), nn.Dropout(0.5)))
    net.train()
    net[2][1].eval()  # a submodule its owner keeps in eval mode
    return net


def test_every_module_is_in_eval_mode_inside_and_each_flag_is_restored_after():
    g, d = _net(), _net()
    before = [m.training for m in (*g.modules(), *d.modules())]
    with eval_mode(g, d):
        assert not any(m.training for m in (*g.modules(), *d.modules()))
        x = torch.ones(3, 2)
        assert torch.equal(g(x), g(x))  # dropout off
    assert [m.training for m in (*g.modules(), *d.modules())] == before
    assert not g[2][1].training and g[1].training  # not the top-level flag copied down


def test_the_flags_are_restored_when_the_block_raises():
    g = _net()
    before = [m.training for m in g.modules()]
    with pytest.raises(RuntimeError), eval_mode(g):
        raise RuntimeError("stop")
    assert [m.training for m in g.modules()] == before
