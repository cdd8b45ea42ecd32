"""The data interface every data set implements.

A data source owns its samples in memory and draws batches with a caller-owned
``torch.Generator`` so that a run is reproducible and resumable: the generator's state
is the whole sampler state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np
import torch


class DataSource:
    """Base class. ``kind`` selects the evaluator ("toy2d" or "image")."""

    kind: str = ""
    shape: Tuple[int, ...] = ()

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` training samples as float32 on the CPU (images in [-1, 1])."""
        raise NotImplementedError

    def describe(self) -> dict:
        """A small JSON-able description recorded in summary.json."""
        return {"kind": self.kind, "shape": list(self.shape)}


@dataclass
class Toy2DSource(DataSource):
    """A known 2-D distribution. ``centers``/``std`` are set for Gaussian mixtures and
    ``None`` for distributions without modes (the Swiss roll)."""

    name: str = ""
    sampler: object = None  # callable (n, generator) -> (n, 2) float tensor
    centers: Optional[np.ndarray] = None
    std: Optional[float] = None
    kind: str = field(default="toy2d", init=False)
    shape: Tuple[int, ...] = field(default=(2,), init=False)

    def sample(self, n, generator):
        return self.sampler(n, generator)

    def describe(self):
        d = super().describe()
        d.update(name=self.name, n_modes=None if self.centers is None else int(len(self.centers)), std=self.std)
        return d


@dataclass
class ImageSource(DataSource):
    """Labelled images held in memory as uint8 N x C x H x W tensors.

    ``key`` identifies the data set and its preprocessing (name, resolution, channels)
    and names the caches of the domain classifier and of reference statistics.
    """

    name: str = ""
    key: str = ""
    train_images: torch.Tensor = None  # uint8 N x C x H x W
    train_labels: torch.Tensor = None  # int64 N
    test_images: Optional[torch.Tensor] = None
    test_labels: Optional[torch.Tensor] = None
    num_classes: int = 0
    kind: str = field(default="image", init=False)

    @property
    def shape(self):
        return tuple(self.train_images.shape[1:])

    def sample(self, n, generator):
        idx = torch.randint(len(self.train_images), (n,), generator=generator)
        return self.train_images[idx].float().div_(127.5).sub_(1.0)

    def describe(self):
        d = super().describe()
        d.update(
            name=self.name,
            key=self.key,
            n_train=int(len(self.train_images)),
            n_test=0 if self.test_images is None else int(len(self.test_images)),
            num_classes=self.num_classes,
        )
        return d
