"""Scoring a generator against its dataset, with the protocol stored beside every score.

A score means something only with how it was measured: which network (and which exact
weights), how many real and fake images, which reference, how images were resized, which
seed. :class:`EvalResult` carries all of that, and ``metrics.jsonl`` stores it with the numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganzoo.components import NameTable
from ganzoo.data import ImageData, load_data
from ganzoo.errors import GanzooError
from ganzoo.latents import LATENT_SAMPLER
from ganzoo.loading import load_generator
from ganzoo.metrics.features import LoadedExtractor, load_extractor
from ganzoo.metrics.maths import (
    feature_statistics,
    frechet_distance,
    inception_score,
    kernel_distance,
    precision_recall,
)
from ganzoo.metrics.reference import cached_reference, reference_statistics
from ganzoo.sampling import generate_images
from ganzoo.version import __version__

METRICS = ("fd", "kd", "is", "pr")
FEATURE_METRICS = ("fd", "kd", "pr")  # the metrics that need the images' feature vectors
FAKE_QUANTIZATION = "uint8 (clamped to [-1, 1], rounded to 256 levels like the reference)"
LABELS = "classes in turn (balanced) for conditional generators"


def parse_metrics(metrics: str | Sequence[str]) -> list[str]:
    """``"fd,kd"`` or ``["fd", "kd"]`` -> a checked list, in the order given."""
    names = [m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str)
                                         else metrics) if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise GanzooError(f"--metrics {','.join(names) or '(empty)'}: choose from "
                          f"{','.join(METRICS)} (pr = precision and recall)")
    return list(dict.fromkeys(names))


# -- scoring ---------------------------------------------------------------------------------


@dataclass
class EvalResult:
    """Scores (by their reported names) and the protocol that produced them."""

    scores: dict[str, float]
    protocol: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """One ``metrics.jsonl`` line."""
        return {"step": self.protocol.get("step"), "eval": self.scores,
                "protocol": self.protocol, "time": round(time.time(), 3)}

    def best_key(self) -> str | None:
        """The Fréchet-distance score's name (lower is better), if one was computed."""
        return self.protocol.get("score_names", {}).get("fd")


def quantize(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> uint8, as a saved PNG would hold them."""
    if images.dtype == torch.uint8:
        return images
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def score_images(fakes: torch.Tensor, data: ImageData, *, table: NameTable | None = None,
                 metrics: str | Sequence[str] = METRICS,
                 extractor: str | LoadedExtractor = "fmnist",
                 seed: int = 0, device: str | torch.device = "cpu", cache: Path | None = None,
                 use_cache: bool = True, extractor_options: dict[str, Any] | None = None,
                 protocol: dict[str, Any] | None = None,
                 progress: Callable[[int], None] | None = None) -> EvalResult:
    """Score any image source (``[N, C, H, W]`` uint8, or float in [-1, 1]) against ``data``.

    The generator-free entry point: corrupted reals, a subset of classes or a saved batch are
    measured exactly as a generator's samples are. ``progress`` counts images as the extractor
    measures them (:attr:`Evaluation.work` says how many that will be).
    """
    names = parse_metrics(metrics)
    if not isinstance(fakes, torch.Tensor) or fakes.ndim != 4:
        raise GanzooError("images to score must be a tensor [N, C, H, W]")
    if fakes.shape[1:] != data.images.shape[1:]:
        raise GanzooError(f"images to score are {list(fakes.shape[1:])} but the reference is "
                          f"{list(data.images.shape[1:])}; evaluate at the data's resolution")
    if len(fakes) < 2:
        raise GanzooError(f"-n must be at least 2 to fit statistics, got {len(fakes)}")
    if isinstance(extractor, LoadedExtractor):
        ex = extractor
    elif table is None:
        raise TypeError("score_images needs table= to look the extractor up by name")
    else:
        ex = load_extractor(extractor, table=table, device=device, **(extractor_options or {}))
    fakes = quantize(fakes)
    ref = reference_statistics(data, ex, cache=cache, use_cache=use_cache, progress=progress)
    need_features = any(m in names for m in FEATURE_METRICS)
    fake_feats = ex.features(fakes, progress) if need_features else None
    scores: dict[str, float] = {}
    extra: dict[str, Any] = {}
    if "fd" in names:
        mu, sigma = feature_statistics(fake_feats)
        scores[ex.score_name("fd")] = frechet_distance(ref.mu, ref.sigma, mu, sigma)
    if "kd" in names:
        kd = kernel_distance(ref.features, fake_feats, num_subsets=100, subset_size=1000,
                             seed=seed)
        scores[ex.score_name("kd")] = kd.mean
        scores[ex.score_name("kd") + "-std"] = kd.std
        extra["kd"] = {"subsets": 100, "subset_size": min(1000, ref.count, len(fakes))}
    if "is" in names:
        splits = 10 if len(fakes) >= 10 else 1
        score = inception_score(ex.probabilities(fakes, progress), splits=splits)
        scores[ex.score_name("is")] = score.mean
        scores[ex.score_name("is") + "-std"] = score.std
        extra["is"] = {"splits": splits}
    if "pr" in names:
        # Equal sample counts on both sides: recall from 500 fakes against 10k reals would
        # measure the sample size, not the generator.
        m = min(ref.count, len(fakes))
        pick = np.sort(np.random.default_rng(seed).choice(ref.count, m, replace=False))
        pr = precision_recall(ref.features[pick], fake_feats[:m], k=3)
        scores[ex.score_name("precision")] = pr.precision
        scores[ex.score_name("recall")] = pr.recall
        extra["pr"] = {"k": 3, "n_real": m, "n_fake": m}
    full = {
        "metrics": names,
        "score_names": {m: ex.score_name(m) for m in ("fd", "kd", "is", "precision",
                                                            "recall")},
        "extractor": ex.full_name, "extractor_sha256": ex.sha256,
        "n_real": ref.count, "n_fake": len(fakes),
        "reference": {"source": ref.source, "images_sha256": ref.images_sha256,
                      "resolution": int(data.images.shape[-1]),
                      "cached": ref.from_cache},
        "resize": f"data: antialiased bilinear to {data.images.shape[-1]}px; "
                  f"extractor: {ex.spec.resize or 'its own'}",
        "fake_quantization": FAKE_QUANTIZATION,
        "seed": seed, "ganzoo_version": __version__, **extra, **(protocol or {}),
    }
    return EvalResult(scores, full)


@dataclass
class Evaluation:
    """A generator, its extractor and its reference, loaded and ready to score.

    :attr:`work` counts the image passes :meth:`run` makes, so a progress bar knows its length
    before anything runs: each generated image is drawn, then measured once per extractor pass
    (features for fd/kd/pr, logits for is), and the reference images are measured too when
    their features are not cached yet.
    """

    generator: nn.Module
    info: dict[str, Any]
    reference: ImageData
    extractor: LoadedExtractor
    metrics: list[str]
    n: int
    seed: int
    batch: int
    device: str | torch.device
    cache: Path | None
    reference_cached: bool

    @property
    def work(self) -> int:
        passes = (1 + any(m in self.metrics for m in FEATURE_METRICS)
                  + ("is" in self.metrics))
        return self.n * passes + (0 if self.reference_cached else len(self.reference.images))

    def run(self, progress: Callable[[int], None] | None = None) -> EvalResult:
        """Draw and score; ``progress`` is called with each batch's number of images, drawn
        or measured, :attr:`work` in all."""
        cfg, info = self.info["generator_config"], self.info
        fakes = generate_images(self.generator, self.n, nz=cfg.nz,
                                num_classes=cfg.num_classes, seed=self.seed, batch=self.batch,
                                device=self.device, postprocess=quantize, progress=progress)
        return score_images(fakes, self.reference, metrics=self.metrics,
                            extractor=self.extractor, seed=self.seed, device=self.device,
                            cache=self.cache, progress=progress, protocol={
                                "step": info["step"], "checkpoint": str(info["checkpoint"]),
                                "generator": info["arch"], "recipe": info["recipe_name"],
                                "latents": LATENT_SAMPLER, "labels": LABELS,
                            })


def prepare_evaluation(run: Any, *, table: NameTable, metrics: str | Sequence[str] = METRICS,
                       n: int = 10000, extractor: str = "fmnist", seed: int = 0,
                       data: str | ImageData | None = None, checkpoint: Any = None,
                       device: str | torch.device = "cpu", cache: Path | None = None,
                       extractor_options: dict[str, Any] | None = None,
                       batch: int = 250) -> Evaluation:
    """:func:`evaluate`'s loading half: everything that can fail on a bad input fails here,
    before any image is drawn."""
    if n < 2:
        raise GanzooError(f"-n must be at least 2, got {n}")
    names = parse_metrics(metrics)
    ex = load_extractor(extractor, table=table, device=device,
                        **(extractor_options or {}))  # fail fast
    ex.batch = batch
    G, info = load_generator(run, checkpoint, table=table, device=str(device))
    cfg = info["generator_config"]
    if data is None:
        config = info.get("config")
        if config is None:
            raise GanzooError(f"{run} is a generator file without its run's dataset; name the "
                              "reference with --data (e.g. --data fashion-mnist)")
        data = config["data"]["spec"]
    reference = (data if isinstance(data, ImageData)
                 else load_data(str(data), cfg.resolution, table=table))
    cached = cached_reference(reference, ex, cache=cache) is not None
    return Evaluation(G, info, reference, ex, names, n, seed, batch, device, cache, cached)


def evaluate(run: Any, *, table: NameTable, metrics: str | Sequence[str] = METRICS,
             n: int = 10000,
             extractor: str = "fmnist", seed: int = 0, data: str | ImageData | None = None,
             checkpoint: Any = None, device: str | torch.device = "cpu",
             cache: Path | None = None, extractor_options: dict[str, Any] | None = None,
             batch: int = 250, progress: Callable[[int], None] | None = None) -> EvalResult:
    """Score a run's EMA generator (or a ``generator.safetensors``) against its dataset.

    ``data`` overrides the reference (a dataset name, a path, or loaded images); by default
    it is the dataset the run trained on, at the run's resolution. ``progress`` is called with
    the number of images of each batch drawn or measured (:attr:`Evaluation.work` in all).
    """
    return prepare_evaluation(run, table=table, metrics=metrics, n=n, extractor=extractor,
                              seed=seed, data=data, checkpoint=checkpoint, device=device,
                              cache=cache, extractor_options=extractor_options,
                              batch=batch).run(progress)
