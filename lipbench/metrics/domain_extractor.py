"""The torch-fidelity feature extractor of a domain classifier (:mod:`lipbench.metrics.domain`
trains it and registers it under ``lipbench-domain-<data.key>``).

The class is made on first use (:func:`extractor_class`): importing torch-fidelity imports
torchvision's models and with them torch._dynamo, seconds that every ``lipbench`` process
paid at start (the metric registry imports this module) and that only an image run's
evaluation needs.
"""

from __future__ import annotations

import copy
import functools
from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

LOADED: Dict[str, nn.Module] = {}  # extractor name -> classifier, read by the extractor class


def to_float(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float in [-1, 1], as the classifier takes them."""
    return images_uint8.float().div_(127.5).sub_(1.0)


@functools.lru_cache(maxsize=None)
def extractor_class() -> type:
    """The torch-fidelity extractor class ``DomainFeatureExtractor`` (made once, on first use)."""
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    class DomainFeatureExtractor(FeatureExtractorBase):
        """torch-fidelity wrapper of a :class:`DomainClassifier` registered under ``name``.

        ``forward`` takes uint8 B x 3 x H x W (torch-fidelity always feeds 3 channels),
        converts to the classifier's channels and resolution, and returns the requested
        features in ``features_list`` order.
        """

        def __init__(self, name, features_list, **kwargs):  # kwargs: torch-fidelity's options
            super().__init__(name, features_list)
            if name not in LOADED:
                raise ValueError(f"{name}: call lipbench.metrics.domain.register_domain_extractor(data) first")
            self.classifier = copy.deepcopy(LOADED[name])
            self.requires_grad_(False)
            self.eval()

        @staticmethod
        def get_provided_features_list():
            return "penultimate", "logits_unbiased", "logits"

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"isc": "logits_unbiased", "fid": "penultimate", "kid": "penultimate", "prc": "penultimate"}[metric]

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, 16, 16, dtype=torch.uint8)

        def forward(self, x):
            if not (torch.is_tensor(x) and x.dtype == torch.uint8 and x.dim() == 4):
                raise ValueError(f"expected a uint8 B x C x H x W tensor, got {getattr(x, 'shape', type(x))}")
            clf = self.classifier
            h = to_float(x)
            if clf.channels == 1 and h.shape[1] != 1:
                h = h.mean(dim=1, keepdim=True)
            elif clf.channels == 3 and h.shape[1] == 1:
                h = h.expand(-1, 3, -1, -1)
            if h.shape[-2:] != (clf.resolution, clf.resolution):
                h = F.interpolate(
                    h, size=(clf.resolution, clf.resolution), mode="bilinear", antialias=True, align_corners=False
                )
            penultimate, logits = clf(h)
            feats = {
                "penultimate": penultimate,
                "logits_unbiased": penultimate @ clf.head.weight.t(),
                "logits": logits,
            }
            return tuple(feats[f].float() for f in self.features_list)

    return DomainFeatureExtractor
