"""The ``fidelity`` metric plug-in: torch-fidelity FID / KID / IS (and precision / recall) of
the generated images at every image evaluation, per feature extractor, with the sampling
floor; computed by :func:`lipbench.metrics.fidelity.compute_fidelity`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from lipbench.errors import ConfigError, require
from lipbench.metrics.catalog import HIGHER, LOWER, output, register_metric
from lipbench.metrics.fidelity import (
    EXTRACTORS,
    REF_SPLITS,
    check_extractors,
    compute_fidelity,
    inception_weights_path,
    reference_images,
)


@dataclass
class FidelityParams:
    ref_split: str = "train"  # the reference images: train or test split
    extractors: List[str] = field(default_factory=lambda: list(EXTRACTORS))
    inception_weights: Optional[str] = None  # path to torch-fidelity's Inception weights (None: its cache)
    kid_subset_size: int = 1000
    prc: bool = True  # precision / recall (domain features)

    def __post_init__(self):
        self.extractors = [self.extractors] if isinstance(self.extractors, str) else list(self.extractors)
        check_extractors(self.extractors)
        if self.ref_split not in REF_SPLITS:
            raise ConfigError(f"eval.ref_split={self.ref_split}: allowed: train, test")
        require(int(self.kid_subset_size), "eval.kid_subset_size", at_least=2)


def _fidelity_outputs():
    """The columns in the report's order: domain metrics, Inception metrics, then the rest."""
    what = {"domain": "the data set's own classifier (offline)", "inception": "Inception-v3 (torch-fidelity)"}
    fid = {
        ex: output(f"fid_{ex}", LOWER, f"Frechet distance of {w} features, generated vs reference split", table=True)
        for ex, w in what.items()
    }
    kid_is = {
        ex: [
            output(f"kid_{ex}", LOWER, f"kernel (MMD, cubic polynomial) distance of {w} features", table=True),
            output(f"is_{ex}", HIGHER, f"Inception Score computed with {w} logits", table=True),
        ]
        for ex, w in what.items()
    }
    spreads = [
        output(f"{m}_{ex}_std", None, f"standard deviation of {m}_{ex} over {over}")
        for ex in EXTRACTORS
        for m, over in (("kid", "subsets"), ("is", "splits"))
    ]
    return [
        fid["domain"],
        output("fid_floor_domain", None, _FLOOR_DOC, table=True),
        output("fid_excess_domain", LOWER, _EXCESS_DOC, table=True),
        *kid_is["domain"],
        output(
            "precision_domain",
            HIGHER,
            "share of generated samples inside the real manifold (k-NN, domain features)",
            table=True,
        ),
        output(
            "recall_domain",
            HIGHER,
            "share of real samples inside the generated manifold (k-NN, domain features)",
            table=True,
        ),
        output(
            "domain_clf_acc",
            None,
            "held-out accuracy of the domain classifier that defines the *_domain features",
            table=True,
        ),
        fid["inception"],
        *kid_is["inception"],
        *spreads,
        output("fid_floor_inception", None, _FLOOR_DOC),
        output("fid_excess_inception", LOWER, _EXCESS_DOC),
        output("fid_n", None, "number of generated images behind this evaluation's fidelity metrics"),
    ]


_FLOOR_DOC = (
    "sampling floor: FID of the held-out real split (up to eval.fid_samples images) against the reference split"
)
_EXCESS_DOC = "fid / fid_floor: 1 = as close as held-out real images"


@register_metric("fidelity", kinds=("image",), params=FidelityParams, order=10, outputs=_fidelity_outputs())
class Fidelity:
    """torch-fidelity FID / KID / IS (and precision / recall) of the generated images per
    feature extractor, the sampling floor ``fid_floor_<extractor>`` (the held-out real split
    against the reference split, computed once) and ``fid_excess_<extractor> = fid / floor``."""

    def __init__(self, run, params: FidelityParams):
        self.p, self.data, self.device = params, run.data, run.device
        self.sizes = run.options
        reference_images(run.data, params.ref_split)  # the split exists
        # settle the slow or failing parts before training: train (or load) the domain
        # classifier, check the Inception weights (one message when unavailable)
        if "domain" in params.extractors:
            from lipbench.metrics.domain import register_domain_extractor
            from lipbench.metrics.first_use import progress_enabled

            progress = progress_enabled(getattr(getattr(run.spec, "train", None), "progress", "auto"))
            register_domain_extractor(run.data, device=run.device, verbose=progress)
        if "inception" in params.extractors:
            inception_weights_path(params.inception_weights)
        self.floor = self._floor()

    def _fidelity(self, images, prc: bool) -> dict:
        p = self.p
        return compute_fidelity(
            images,
            self.data,
            extractors=p.extractors,
            ref_split=p.ref_split,
            inception_weights=p.inception_weights,
            kid_subset_size=int(p.kid_subset_size),
            prc=prc,
            batch_size=int(self.sizes.fidelity_batch_size),
            device=self.device,
        )

    def _floor(self) -> dict:
        """The held-out real split (the one that is not ``ref_split``, at most ``fid_samples``
        images) against the reference split; empty when the data set has no held-out split."""
        held_out = self.data.test_images if self.p.ref_split == "train" else self.data.train_images
        if held_out is None or len(held_out) < 2:
            return {}
        m = self._fidelity(held_out[: int(self.sizes.fid_samples)], prc=False)
        return {f"fid_floor_{ex}": m[f"fid_{ex}"] for ex in self.p.extractors if f"fid_{ex}" in m}

    def __call__(self, ev) -> dict:
        metrics = {}
        if ev.images_u8 is not None:  # a diverged generator gets no fidelity numbers
            metrics.update(self._fidelity(ev.images_u8, prc=bool(self.p.prc)))
        metrics.update(self.floor, fid_n=ev.n_generated)
        for ex in self.p.extractors:
            fid, floor = metrics.get(f"fid_{ex}"), self.floor.get(f"fid_floor_{ex}")
            if fid is not None and floor:
                metrics[f"fid_excess_{ex}"] = fid / floor
        return metrics
