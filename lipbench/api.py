"""Use what was trained: load a run directory into its generator, critic and config.

    from lipbench.api import load_run
    run = load_run("multirun/digits/constraint=sn,model.width=32,seed=0")
    images = run.sample(1000, seed=0)              # float in [-1, 1], (1000, C, H, W)
    pixels = run.sample(1000, seed=0, uint8=True)  # uint8 in [0, 255], (1000, C, H, W)
    scores = run.critic(images[:8])                # the trained critic, in eval mode

On 2-D data ``sample`` returns points, ``(n, 2)`` float. A dual-task run (``task=dual``)
trained only a critic: it loads with ``generator=None`` and ``kind="dual"``, its critic
taking points of the pair's dimension, and ``sample`` refuses. The networks are rebuilt from
the resolved config in ``summary.json`` exactly as training built them (the critic wrapped
by its constraints: spectral normalization, Björck parametrizations, ...), then loaded
from ``checkpoint.pt`` with ``torch.load(weights_only=True)``.

Sampling is deterministic: the noise is drawn on the CPU from ``torch.Generator`` seeded
with ``seed``, in fixed blocks of :data:`NOISE_BLOCK` rows. The same seed and batch size
give the same samples on one device; the noise does not depend on the batch size at all
(``noise(n)`` is the first ``n`` rows of ``noise(m)`` for ``m > n``), the samples only in the
last bits of floating-point rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Union

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from lipbench import record
from lipbench.errors import RunDirError
from lipbench.record.checkpoint import load_checkpoint

NOISE_BLOCK = 1024  # rows of noise drawn per generator call; fixes the noise stream
LOADABLE = (record.COMPLETED,)


@dataclass
class LoadedRun:
    """A trained run: its networks (eval mode, on ``device``), config and summary."""

    run_dir: Path
    generator: Optional[nn.Module]  # None for a dual-task run (critic only)
    critic: nn.Module
    config: DictConfig  # the resolved config the run was trained with
    summary: dict  # summary.json
    step: int  # the generator iteration the weights come from
    kind: str  # "toy2d" (samples are points), "image", or "dual" (a critic only)
    data_shape: tuple  # the shape of one sample (dual: one critic input), e.g. (2,) or (1, 16, 16)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def z_dim(self) -> int:
        return int(self._generator().z_dim)

    def _generator(self) -> nn.Module:
        if self.generator is None:
            raise ValueError(f"{self.run_dir}: a dual-task run trained only a critic; it has no generator")
        return self.generator

    def noise(self, n: int, seed: int = 0) -> torch.Tensor:
        """The ``n`` noise vectors (CPU) that ``sample(n, seed)`` maps."""
        return torch.cat(list(_noise_batches(n, self.z_dim, seed, n))) if n else torch.empty(0, self.z_dim)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """The generator's output for the noise ``z``, on the CPU, computed in batches."""
        generator = self._generator()
        out = [generator(z[i : i + batch_size].to(self.device)).float().cpu() for i in range(0, len(z), batch_size)]
        return torch.cat(out) if out else torch.empty(0, *self.data_shape)

    def sample_batches(
        self, n: int, seed: int = 0, batch_size: int = 500, uint8: bool = False
    ) -> Iterator[torch.Tensor]:
        """``sample(n, seed)`` as consecutive CPU batches of at most ``batch_size`` rows."""
        self._generator()
        if int(n) < 0 or int(batch_size) < 1:
            raise ValueError(f"n={n}, batch_size={batch_size}: need n >= 0 and batch_size >= 1")
        if uint8 and self.kind != "image":
            raise ValueError("uint8=True is for image runs; this run's samples are 2-D points")
        for z in _noise_batches(int(n), self.z_dim, int(seed), int(batch_size)):
            x = self.generate(z, batch_size=len(z))
            yield _to_uint8(x) if uint8 else x

    def sample(self, n: int, seed: int = 0, batch_size: int = 500, uint8: bool = False) -> torch.Tensor:
        """``n`` samples on the CPU: points ``(n, 2)`` on 2-D data; images ``(n, C, H, W)`` in
        [-1, 1] (float), or in [0, 255] with ``uint8=True`` (clamped and rounded)."""
        batches = list(self.sample_batches(n, seed, batch_size, uint8))
        if batches:
            return torch.cat(batches)
        return torch.empty(0, *self.data_shape, dtype=torch.uint8 if uint8 else torch.float32)


def load_run(
    run_dir: Union[str, Path], device: Union[str, torch.device] = "cpu", allow_incomplete: bool = False
) -> LoadedRun:
    """Load the run in ``run_dir`` (a directory ``lipbench`` trained into).

    ``device``: any torch device string, or ``auto`` (CUDA when available). Only completed
    runs load unless ``allow_incomplete=True``, which also accepts an interrupted or diverged
    run's last checkpoint. Raises :class:`lipbench.errors.RunDirError` with one line when the
    directory holds no loadable run.
    """
    run_dir = Path(run_dir)
    summary = _read_summary(run_dir)
    status = summary.get("status")
    if status == record.FAILED:
        error = " ".join(str(summary.get("error")).split())[:300]
        raise RunDirError(f"{run_dir}: the run failed ({error}); it has no trained model to load")
    if status not in LOADABLE and not allow_incomplete:
        raise RunDirError(
            f"{run_dir}: the run is {status} at step {summary.get('step')}, not completed; "
            "pass allow_incomplete=True (lipbench-sample --allow-incomplete) to load its last checkpoint"
        )
    device = _device(device)
    ckpt = _read_checkpoint(run_dir, summary, device)
    config = OmegaConf.create(summary["config"])
    kind, shape = _data_info(summary)
    generator, critic = build_networks(config, shape)
    if kind == "dual":  # the dual task saves no generator: the one built here is never trained
        generator = None
    for name, net in (("generator", generator), ("critic", critic)):
        if net is None:
            continue
        try:
            net.load_state_dict(ckpt[name])
        except (KeyError, RuntimeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise RunDirError(
                f"{run_dir / record.CHECKPOINT}: its {name} does not fit the run's config ({first})"
            ) from None
        net.to(device).eval()
    return LoadedRun(run_dir, generator, critic, config, summary, int(ckpt["step"]), kind, shape, device)


def build_networks(cfg: DictConfig, data_shape) -> tuple:
    """``(generator, critic)`` for ``cfg`` as :func:`lipbench.train.build.build_gan` builds them:
    the models, then the critic wrapped by the constraints in their order. The global RNG
    is left untouched (the random initial weights are replaced by the checkpoint's)."""
    from lipbench.constraints import build_constraints
    from lipbench.models import build_models

    with torch.random.fork_rng(devices=[]):
        generator, critic = build_models(cfg.model, tuple(data_shape))
        critic = build_constraints(cfg.constraint).wrap(critic)
    return generator, critic


def _read_summary(run_dir: Path) -> dict:
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory")
    path = run_dir / record.SUMMARY
    if not path.is_file():
        raise RunDirError(f"{run_dir}: no {record.SUMMARY}; not a lipbench run directory")
    try:
        summary = record.read_json(path)
    except (OSError, ValueError) as e:
        raise RunDirError(f"{path} is unreadable ({e})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("config"), dict):
        raise RunDirError(f"{path} holds no resolved config; not a lipbench run record")
    return summary


def _read_checkpoint(run_dir: Path, summary: dict, device: torch.device) -> dict:
    path = run_dir / record.CHECKPOINT
    if not path.is_file():
        raise RunDirError(f"{run_dir}: no {record.CHECKPOINT}; the run left no weights to load")
    try:
        ckpt = load_checkpoint(path, map_location=device)
    except Exception as e:  # torch raises many kinds on a corrupt file
        raise RunDirError(f"{path} is unreadable ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or "step" not in ckpt:
        raise RunDirError(f"{path} is not a lipbench checkpoint")
    if summary.get("run_id") and ckpt.get("run_id") != summary["run_id"]:
        raise RunDirError(
            f"{path} belongs to another run (run_id {ckpt.get('run_id')}, summary.json says {summary['run_id']})"
        )
    return ckpt


def _device(name) -> torch.device:
    from lipbench.train.setup import resolve_device

    try:
        device = resolve_device(str(name))
    except RuntimeError:
        raise ValueError(f"device={name}: not a torch device (e.g. cpu, cuda, cuda:1, mps, auto)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name}: CUDA is not available on this machine")
    return device


def _data_info(summary: dict) -> tuple:
    """``(kind, shape)`` of the run's data, from summary.json (or by building the data set);
    a dual-task run's is ``("dual", (dim,))``, the pair's dimension."""
    if summary.get("task") == "dual" or summary["config"].get("task") == "dual":
        dim = (summary.get("pair") or {}).get("dim")
        if dim is None:
            from lipbench.dual.pairs import build_pair

            dim = build_pair(OmegaConf.create(summary["config"]["pair"])).dim
        return "dual", (int(dim),)
    data = summary.get("data") or {}
    if data.get("kind") and data.get("shape"):
        return str(data["kind"]), tuple(int(s) for s in data["shape"])
    from lipbench.data import build_data

    source = build_data(OmegaConf.create(summary["config"]["data"]))
    return source.kind, tuple(source.shape)


def _noise_batches(n: int, z_dim: int, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
    """The first ``n`` rows of the seed's noise stream, in batches of ``batch_size`` rows."""
    gen = torch.Generator().manual_seed(seed)
    buffer = torch.empty(0, z_dim)
    for start in range(0, n, batch_size):
        k = min(batch_size, n - start)
        while len(buffer) < k:
            buffer = torch.cat([buffer, torch.randn(NOISE_BLOCK, z_dim, generator=gen)])
        yield buffer[:k]
        buffer = buffer[k:]


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    from lipbench.evaluate.images import to_uint8

    return to_uint8(x)
