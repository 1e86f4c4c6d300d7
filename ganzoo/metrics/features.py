"""A registered feature extractor, loaded and ready to measure images, with the sha256 of
the exact weights that every score it makes must name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ganzoo.components import FeatureExtractor, NameTable
from ganzoo.errors import GanzooError


@dataclass
class LoadedExtractor:
    """A registered extractor's network, ready to measure, with what identifies it."""

    spec: FeatureExtractor
    full_name: str
    model: Any
    sha256: str
    device: torch.device
    batch: int = 250
    calls: int = field(default=0, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def score_name(self, metric: str) -> str:
        """What a ``metric`` score is called: the loaded network's own ``score_names`` win
        over the registered ones (weights that are not the reference must not be called
        FID)."""
        own = getattr(self.model, "score_names", None)
        if isinstance(own, dict) and metric in own:
            return str(own[metric])
        return self.spec.score_name(metric)

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or [-1, 1] float images -> floats in the extractor's input range."""
        if images.shape[1] not in self.spec.channels:
            raise GanzooError(
                f"the {self.full_name} extractor takes {' or '.join(map(str, self.spec.channels))}"
                f"-channel images, these have {images.shape[1]}; choose another --extractor "
                "(inception takes RGB)")
        x = images.to(self.device)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else (x.float() + 1.0) / 2.0
        low, high = self.spec.input_range
        return x * (high - low) + low

    @torch.no_grad()
    def _run(self, method: str, images: torch.Tensor,
             progress: Callable[[int], None] | None = None) -> np.ndarray:
        fn = getattr(self.model, method, None)
        if fn is None:
            what = "the Inception score" if method == "logits" else method
            raise GanzooError(f"the {self.full_name} extractor has no {method}(x), so it "
                              f"cannot compute {what}; choose another --extractor or --metrics")
        out = []
        for chunk in images.split(self.batch):
            self.calls += 1
            out.append(fn(self._prepare(chunk)).float().cpu())
            if progress is not None:
                progress(len(chunk))
        return torch.cat(out).numpy()

    def features(self, images: torch.Tensor,
                 progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Feature vectors of ``images``; ``progress`` is told each batch's size once done."""
        return self._run("features", images, progress)

    def probabilities(self, images: torch.Tensor,
                      progress: Callable[[int], None] | None = None) -> np.ndarray:
        logits = torch.from_numpy(self._run("logits", images, progress)).double()
        return torch.softmax(logits, dim=1).numpy()


def load_extractor(name: str = "fmnist", *, table: NameTable,
                   device: str | torch.device = "cpu", **options: Any) -> LoadedExtractor:
    """The extractor registered as ``name``, loaded with ``options`` (e.g. ``weights``)."""
    component = table.resolve("feature_extractor", name)
    spec = component.value
    model = spec.load(device=device, **options)
    if not callable(getattr(model, "features", None)):
        raise GanzooError(f"feature extractor '{component.full_name}' loaded a "
                          f"{type(model).__name__} without features(x); fix the plugin")
    if isinstance(model, nn.Module):
        model.eval()
    sha = str(getattr(model, "sha256", "") or spec.sha256)
    if not sha:
        raise GanzooError(f"feature extractor '{component.full_name}' has no sha256: scores "
                          "must say which weights made them; register it with sha256=...")
    return LoadedExtractor(spec, component.full_name, model, sha, torch.device(device))
