"""FID, KID, ISC (and precision/recall) of generated images through torch-fidelity.

:func:`compute_fidelity` calls ``torch_fidelity.calculate_metrics`` once per feature
extractor and renames its keys with the extractor's suffix, so that numbers from the
offline domain classifier (``*_domain``) and from Inception (``*_inception``) never share
a column. The reference split gets a cache name, so its features and statistics are
computed once and reused by every run of a sweep.

Inception weights come from ``inception_weights`` (torch-fidelity's
``feature_extractor_weights_path``) or from torch-fidelity's download cache; when neither
is available (offline), one message says how to provide them and only the domain
metrics are returned. The ``fidelity`` metric plug-in that calls it at every image
evaluation is :mod:`lipbench.metrics.fidelity_metric`.
"""

from __future__ import annotations

import hashlib
import os
import sys
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from lipbench.errors import ConfigError

EXTRACTORS = ("domain", "inception")
INCEPTION = "inception-v3-compat"
REF_SPLITS = ("train", "test")

_RENAME = {
    "frechet_inception_distance": "fid_{}",
    "kernel_inception_distance_mean": "kid_{}",
    "kernel_inception_distance_std": "kid_{}_std",
    "inception_score_mean": "is_{}",
    "inception_score_std": "is_{}_std",
    "precision": "precision_{}",
    "recall": "recall_{}",
}
_INCEPTION_FAILED: Dict[str, str] = {}  # weights source -> reason, so a failed download is tried once


class Uint8Images(Dataset):
    """uint8 N x C x H x W images served as 3 x H x W (grayscale replicated)."""

    def __init__(self, images: torch.Tensor):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"expected uint8 N x C x H x W images, got {images.dtype} {tuple(images.shape)}")
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x = self.images[i]
        return x.expand(3, -1, -1).contiguous() if x.shape[0] == 1 else x


def inception_weights_path(inception_weights: Optional[str], verbose: bool = False) -> Optional[str]:
    """A local file with torch-fidelity's Inception weights: ``inception_weights`` itself,
    or torch-fidelity's download (cached by torch.hub). ``None``, with one printed message
    saying how to provide the file, when it cannot be had (offline)."""
    if inception_weights:
        path = os.path.abspath(os.path.expanduser(str(inception_weights)))
        if not os.path.isfile(path):
            raise ConfigError(f"eval.inception_weights={inception_weights}: no such file")
        return path
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(URL_INCEPTION_V3))
    if os.path.isfile(path):
        return path
    if path not in _INCEPTION_FAILED:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            torch.hub.download_url_to_file(URL_INCEPTION_V3, path, progress=verbose)
            return path
        except Exception as e:  # noqa: BLE001 - offline, proxy, HTTP error: all mean "no weights"
            _INCEPTION_FAILED[path] = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(
                f"lipbench: Inception weights unavailable (download failed: {_INCEPTION_FAILED[path]}); "
                f"fid/kid/is_inception are skipped, the *_domain metrics are computed. To get them, pass "
                f"eval.inception_weights=/path/to/{os.path.basename(URL_INCEPTION_V3)} (from {URL_INCEPTION_V3}), "
                f"or run once with internet access to fill {path}",
                file=sys.stderr,
            )
    return None


def _weights_tag(path: str) -> str:
    st = os.stat(path)
    return hashlib.sha1(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:10]


def check_extractors(extractors: Sequence[str]) -> None:
    unknown = [e for e in extractors if e not in EXTRACTORS]
    if unknown:
        raise ConfigError(f"eval.extractors={list(extractors)}: unknown {unknown}; allowed: {', '.join(EXTRACTORS)}")


def reference_images(data, ref_split: str) -> torch.Tensor:
    """The ``ref_split`` images of ``data`` (ConfigError when the split is unknown or absent)."""
    if ref_split not in REF_SPLITS:
        raise ConfigError(f"eval.ref_split={ref_split}: allowed: train, test")
    reference = data.train_images if ref_split == "train" else data.test_images
    if reference is None or len(reference) == 0:
        raise ConfigError(f"eval.ref_split={ref_split}: data set {data.key} has no {ref_split} split; use train")
    return reference


def compute_fidelity(
    generated: torch.Tensor,
    data,
    *,
    extractors: Sequence[str] = EXTRACTORS,
    ref_split: str = "train",
    inception_weights: Optional[str] = None,
    kid_subset_size: int = 1000,
    prc: bool = True,
    batch_size: int = 200,
    device="cpu",
    cache_root: Optional[str] = None,
    verbose: bool = False,
) -> Dict[str, float]:
    """Fidelity metrics of ``generated`` (uint8 N x C x H x W) against ``data``'s
    ``ref_split`` ("train" or "test"), for each of ``extractors`` ("domain", "inception").

    Returns a flat dict: ``fid_domain, kid_domain, kid_domain_std, is_domain,
    is_domain_std, precision_domain, recall_domain, domain_clf_acc`` and ``fid_inception,
    kid_inception, kid_inception_std, is_inception, is_inception_std`` (the Inception keys
    are absent when its weights are unavailable).
    """
    from lipbench.data.images import cache_root as default_cache_root

    check_extractors(extractors)
    reference = reference_images(data, ref_split)
    device = torch.device(device)
    cache_root = cache_root or default_cache_root()
    common = _common_kwargs(generated, reference, kid_subset_size, batch_size, device, cache_root, verbose)
    out: Dict[str, float] = {}
    for ex in extractors:
        kwargs = _extractor_kwargs(ex, common, data, cache_root, device, inception_weights, verbose, out)
        if kwargs is None:
            continue
        kwargs["input2_cache_name"] = f"lipbench-{data.key}-{ref_split}{len(reference)}-{ex}-{kwargs.pop('tag')}"
        metrics = _calculate(kwargs, device)
        if ex == "domain" and prc and min(len(generated), len(reference)) > 4:
            metrics.update(_calculate(_prc_kwargs(kwargs, reference, len(generated)), device))
        for k, v in metrics.items():
            if k in _RENAME:
                out[_RENAME[k].format(ex)] = float(v)
    return out


def _common_kwargs(generated, reference, kid_subset_size, batch_size, device, cache_root, verbose) -> dict:
    """torch-fidelity's arguments shared by every extractor (KID subsets as large as both sets allow)."""
    n_gen, n_ref = len(generated), len(reference)
    kid_size = min(int(kid_subset_size), n_gen, n_ref)
    return dict(
        input1=Uint8Images(generated.cpu()),
        input2=Uint8Images(reference),
        cuda=device.type == "cuda",
        batch_size=int(batch_size),
        isc=True,
        fid=True,
        kid=kid_size >= 2,
        kid_subset_size=max(kid_size, 2),
        isc_splits=max(1, min(10, n_gen)),
        save_cpu_ram=True,
        cache_root=os.path.join(cache_root, "fidelity"),
        verbose=verbose,
    )


def _extractor_kwargs(ex, common, data, cache_root, device, inception_weights, verbose, out) -> Optional[dict]:
    """The arguments for one extractor, with its cache ``tag``; None when Inception's weights
    are unavailable. The domain extractor also puts its classifier's accuracy into ``out``."""
    from lipbench.metrics.domain import register_domain_extractor

    kwargs = dict(common)
    if ex == "domain":
        name, info = register_domain_extractor(data, cache_root=cache_root, device=device)
        kwargs.update(feature_extractor=name, prc=False, tag=info.fingerprint)
        out["domain_clf_acc"] = float(info.accuracy)
        return kwargs
    path = inception_weights_path(inception_weights, verbose=verbose)
    if path is None:
        return None
    kwargs.update(feature_extractor=INCEPTION, feature_extractor_weights_path=path, prc=False, tag=_weights_tag(path))
    return kwargs


def _calculate(kwargs, device):
    import torch_fidelity

    # torch-fidelity builds its extractors with the global RNG: keep the caller's streams intact
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        return torch_fidelity.calculate_metrics(**kwargs)


def _prc_kwargs(kwargs, reference, n_gen):
    """Precision/recall against a fixed-seed subset of the reference with as many images as
    were generated (equal set sizes, as in Kynkaanniemi et al. 2019): the k-NN radii of the
    whole reference would cost O(n_ref^2) at every evaluation."""
    n_sub = min(len(reference), n_gen)
    idx = torch.from_numpy(np.sort(np.random.RandomState(0).permutation(len(reference))[:n_sub]))
    out = dict(kwargs, isc=False, fid=False, kid=False, prc=True, input2=Uint8Images(reference[idx]))
    out["input2_cache_name"] = f"{kwargs['input2_cache_name']}-prc{n_sub}"
    return out
