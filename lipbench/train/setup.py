"""A run's set-up: device, threads, seeds, optimizers, RNG state."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (CPU and CUDA); return the data sampler's generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    return torch.Generator().manual_seed(seed)


def build_optimizer(params, optim: dict) -> torch.optim.Optimizer:
    """An optimizer from a resolved ``optim`` setting (see lipbench.config.resolve_optim)."""
    name, lr = optim["optimizer"], optim["lr"]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(optim["betas"]))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError(f"unknown optimizer {name}")  # validated before, unreachable


def rng_state(data_generator: torch.Generator) -> dict:
    state = {
        "python": random.getstate(),
        "numpy": _numpy_plain(np.random.get_state()),
        "torch": torch.get_rng_state(),
        "data": data_generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, data_generator: torch.Generator) -> None:
    random.setstate(_python_state(state["python"]))
    np.random.set_state(_numpy_state(state["numpy"]))
    torch.set_rng_state(state["torch"])
    data_generator.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _python_state(s):
    # weights_only loading turns tuples into lists
    return (s[0], tuple(s[1]), s[2])


def _numpy_plain(s):
    # plain types only, so that the checkpoint loads with torch.load(weights_only=True)
    return [s[0], torch.from_numpy(s[1].astype(np.int64)), int(s[2]), int(s[3]), float(s[4])]


def _numpy_state(s):
    return (s[0], np.asarray(s[1], dtype=np.int64).astype(np.uint32), int(s[2]), int(s[3]), float(s[4]))


def set_threads(threads) -> int:
    if threads:
        torch.set_num_threads(int(threads))
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    return torch.get_num_threads()
