"""The cases of the cost benchmark (experiments/cost.py) and how each is built and measured.

A :class:`Case` is one constraint on one critic at a width and batch, in a variant (fp32,
bf16 autocast, torch.compile); :func:`build` makes its GAN through lipbench's own code
(``build_gan`` of a composed config's spec) and returns the training calls that are
timed (``critic_step``, ``train_iteration``). :func:`peak_memory_mib` measures the memory
of a case's training steps above the built model (see experiments/cost.py's module doc).
The methods are every constraint with a yaml in conf/constraint (experiments/cost.py's
``--constraints`` default), so ``sn_cert`` is timed with its per-step certificates: on the
32 px DCGAN and SN-CNN critics the certified convs are re-proved after every optimizer step.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path

import torch
from cost_harness import rss_rise_mib
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

import lipbench.cli  # noqa: F401  (resolvers)
from lipbench.data import build_data
from lipbench.spec import RunSpec, from_config
from lipbench.train.build import build_gan
from lipbench.train.setup import seed_everything
from lipbench.train.steps import critic_step, train_iteration

CONF = str(Path(__file__).resolve().parent.parent / "conf")
IMAGES_32 = ["data=digits", "data.resolution=32", "data.channels=3"]
CRITICS = {  # critic -> (overrides, the key its width sets)
    "mlp": (["data=eight_gaussians", "model=mlp"], "model.hidden"),
    "dcgan": ([*IMAGES_32, "model=dcgan"], "model.width"),
    "sngan_cnn": ([*IMAGES_32, "model=sngan_cnn"], "model.width"),
}
VARIANTS = {"fp32": [], "bf16": ["train.precision=bf16"], "compile": ["train.compile=true"]}


@dataclass(frozen=True)
class Case:
    """One thing measured: a constraint on a critic at a width and batch, in a variant."""

    section: str
    critic: str
    method: str
    width: int
    batch: int
    variant: str = "fp32"
    kinds: tuple = ("critic_step",)

    def groups(self, device: str) -> tuple:
        """The overrides that need Hydra's composition (groups); the sizes are set afterwards."""
        return (*CRITICS[self.critic][0], f"constraint={self.method}", f"device={device}", *VARIANTS[self.variant])

    def sizes(self) -> dict:
        return {CRITICS[self.critic][1]: self.width, "train.batch_size": self.batch}


@dataclass
class Built:
    """A case's GAN and the training calls that are timed."""

    n_critic: int
    calls: dict = field(default_factory=dict)


@functools.lru_cache(maxsize=None)
def _composed(groups: tuple) -> DictConfig:
    with initialize_config_dir(config_dir=CONF, version_base=None):
        return compose("config", overrides=list(groups))


def case_spec(case: Case, device: str) -> RunSpec:
    """The case's run spec: composed once per set of groups, then sized and validated (cached)."""
    return _spec(case.groups(device), tuple(case.sizes().items()))


@functools.lru_cache(maxsize=None)
def _spec(groups: tuple, sizes: tuple) -> RunSpec:
    cfg = copy.deepcopy(_composed(groups))
    for key, value in sizes:
        OmegaConf.update(cfg, key, value)
    return from_config(cfg)


@functools.lru_cache(maxsize=None)
def _data_once(data_yaml: str):
    return build_data(OmegaConf.create(data_yaml))


def _shared_data(data_cfg):
    """build_data, once per data config: the cases share it (reading it is not timed)."""
    return _data_once(OmegaConf.to_yaml(data_cfg))


def build(case: Case, device: torch.device, spec: RunSpec = None) -> Built:
    """The case's GAN through lipbench's own code, and its timed calls."""
    spec = spec if spec is not None else case_spec(case, device.type)
    data_gen = seed_everything(0)
    data, gan = build_gan(spec, device, data=_shared_data(spec.config.data))  # the rest as a training run builds it
    n_critic, batch = int(spec.optim["n_critic"]), case.batch

    def sample_real(n):
        return data.sample(n, data_gen).to(device, non_blocking=True)

    calls = {
        "critic_step": lambda: critic_step(gan, sample_real(batch)),
        "iteration": lambda: train_iteration(gan, sample_real, n_critic, batch),
        "memory_probe": lambda: train_iteration(gan, sample_real, 1, batch),
    }
    return Built(n_critic, calls)


def synchronizer(device: torch.device):
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def peak_memory_mib(case: Case, device: torch.device, spec: RunSpec, steps: int = 2) -> float:
    """Memory of ``steps`` training iterations above the built model (see the module doc)."""
    if device.type == "cuda":
        built = build(case, device, spec)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        for _ in range(steps):
            built.calls["memory_probe"]()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20

    def prepare():
        torch.set_num_threads(1)  # memory does not depend on it, and one thread is safe after a fork
        return build(case, device, spec)

    return rss_rise_mib(prepare, lambda built: [built.calls["memory_probe"]() for _ in range(steps)])
