"""Scoring a generator against its dataset, with the protocol stored beside every score.

A score means something only with how it was measured: which network (and which exact
weights), how many real and fake images, which reference, how images were resized, which
seed. :class:`EvalResult` carries all of that, and ``metrics.jsonl`` stores it with the numbers.

Reference statistics (the real images' features, their mean and covariance) are the slow,
repeated part, so they are cached as safetensors under ``GANZOO_CACHE_DIR`` (default
``~/.cache/ganzoo``), keyed by the reference images' own bytes and the extractor's sha256:
a changed dataset or different weights never reuse a stale file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganzoo.data import ImageData, load_data
from ganzoo.errors import GanzooError
from ganzoo.metrics.maths import (
    feature_statistics,
    frechet_distance,
    inception_score,
    kernel_distance,
    precision_recall,
)

METRICS = ("fd", "kd", "is", "pr")
CACHE_FORMAT = "ganzoo-reference-stats/1"
FAKE_QUANTIZATION = "uint8 (clamped to [-1, 1], rounded to 256 levels like the reference)"
LABELS = "classes in turn (balanced) for conditional generators"


def cache_dir() -> Path:
    """Where reference statistics are cached: ``GANZOO_CACHE_DIR`` or ``~/.cache/ganzoo``."""
    return Path(os.environ.get("GANZOO_CACHE_DIR") or Path.home() / ".cache" / "ganzoo")


def parse_metrics(metrics: str | Sequence[str]) -> list[str]:
    """``"fd,kd"`` or ``["fd", "kd"]`` -> a checked list, in the order given."""
    names = [m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str)
                                         else metrics) if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise GanzooError(f"--metrics {','.join(names) or '(empty)'}: choose from "
                          f"{','.join(METRICS)} (pr = precision and recall)")
    return list(dict.fromkeys(names))


# -- extractors ------------------------------------------------------------------------------


@dataclass
class LoadedExtractor:
    """A registered extractor's network, ready to measure, with what identifies it."""

    spec: Any  # ganzoo.registry.FeatureExtractor
    full_name: str
    model: Any
    sha256: str
    device: torch.device
    batch: int = 250
    calls: int = field(default=0, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

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
    def _run(self, method: str, images: torch.Tensor) -> np.ndarray:
        fn = getattr(self.model, method, None)
        if fn is None:
            what = "the Inception score" if method == "logits" else method
            raise GanzooError(f"the {self.full_name} extractor has no {method}(x), so it "
                              f"cannot compute {what}; choose another --extractor or --metrics")
        out = []
        for chunk in images.split(self.batch):
            self.calls += 1
            out.append(fn(self._prepare(chunk)).float().cpu())
        return torch.cat(out).numpy()

    def features(self, images: torch.Tensor) -> np.ndarray:
        return self._run("features", images)

    def probabilities(self, images: torch.Tensor) -> np.ndarray:
        logits = torch.from_numpy(self._run("logits", images)).double()
        return torch.softmax(logits, dim=1).numpy()


def load_extractor(name: str = "fmnist", *, device: str | torch.device = "cpu",
                   registry: Any = None, **options: Any) -> LoadedExtractor:
    """The extractor registered as ``name``, loaded with ``options`` (e.g. ``weights``)."""
    if registry is None:
        from ganzoo.plugins import get_registry

        registry = get_registry()
    component = registry.resolve("feature_extractor", name)
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


# -- reference statistics --------------------------------------------------------------------


@dataclass
class ReferenceStats:
    """The real side of every metric: features and their Gaussian fit, and where they came from."""

    features: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    source: str
    count: int
    images_sha256: str
    cache_path: Path | None
    from_cache: bool


def _images_digest(images: torch.Tensor) -> str:
    digest = hashlib.sha256(json.dumps(list(images.shape)).encode())
    digest.update(images.contiguous().numpy().tobytes())
    return digest.hexdigest()


def reference_statistics(data: ImageData, extractor: LoadedExtractor, *,
                         cache: Path | None = None, use_cache: bool = True) -> ReferenceStats:
    """Features of every reference image, from the cache when these exact images and weights
    were measured before."""
    from safetensors import safe_open
    from safetensors.torch import save as st_save

    from ganzoo.train.checkpoint import atomic_write_bytes

    images = data.images
    digest = _images_digest(images)
    folder = (cache or cache_dir()) / "reference"
    path = folder / f"{extractor.name}-{extractor.sha256[:16]}-{digest[:24]}.safetensors"
    if use_cache and path.is_file():
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                if (meta.get("format") == CACHE_FORMAT and meta.get("images_sha256") == digest
                        and meta.get("extractor_sha256") == extractor.sha256):
                    feats = f.get_tensor("features").numpy()
                    return ReferenceStats(feats, f.get_tensor("mu").numpy(),
                                          f.get_tensor("sigma").numpy(), data.source,
                                          len(images), digest, path, True)
        except Exception:  # an unreadable cache file is recomputed and rewritten
            pass
    feats = extractor.features(images)
    mu, sigma = feature_statistics(feats)
    if use_cache:
        meta = {"format": CACHE_FORMAT, "images_sha256": digest, "source": data.source,
                "count": str(len(images)), "extractor": extractor.full_name,
                "extractor_sha256": extractor.sha256, "shape": json.dumps(list(images.shape))}
        tensors = {"features": torch.from_numpy(np.ascontiguousarray(feats, np.float32)),
                   "mu": torch.from_numpy(np.ascontiguousarray(mu)),
                   "sigma": torch.from_numpy(np.ascontiguousarray(sigma))}
        try:
            atomic_write_bytes(path, st_save(tensors, metadata=meta))
        except OSError as exc:
            raise GanzooError(f"cannot write the reference statistics cache {path} ({exc}); "
                              "set GANZOO_CACHE_DIR to a writable folder") from exc
    return ReferenceStats(feats, mu, sigma, data.source, len(images), digest,
                          path if use_cache else None, False)


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


def score_images(fakes: torch.Tensor, data: ImageData, *,
                 metrics: str | Sequence[str] = METRICS,
                 extractor: str | LoadedExtractor = "fmnist",
                 seed: int = 0, device: str | torch.device = "cpu", cache: Path | None = None,
                 use_cache: bool = True, extractor_options: dict[str, Any] | None = None,
                 protocol: dict[str, Any] | None = None) -> EvalResult:
    """Score any image source (``[N, C, H, W]`` uint8, or float in [-1, 1]) against ``data``.

    The generator-free entry point: corrupted reals, a subset of classes or a saved batch are
    measured exactly as a generator's samples are.
    """
    names = parse_metrics(metrics)
    if not isinstance(fakes, torch.Tensor) or fakes.ndim != 4:
        raise GanzooError("images to score must be a tensor [N, C, H, W]")
    if fakes.shape[1:] != data.images.shape[1:]:
        raise GanzooError(f"images to score are {list(fakes.shape[1:])} but the reference is "
                          f"{list(data.images.shape[1:])}; evaluate at the data's resolution")
    if len(fakes) < 2:
        raise GanzooError(f"-n must be at least 2 to fit statistics, got {len(fakes)}")
    ex = (extractor if isinstance(extractor, LoadedExtractor)
          else load_extractor(extractor, device=device, **(extractor_options or {})))
    fakes = quantize(fakes)
    ref = reference_statistics(data, ex, cache=cache, use_cache=use_cache)
    need_features = any(m in names for m in ("fd", "kd", "pr"))
    fake_feats = ex.features(fakes) if need_features else None
    scores: dict[str, float] = {}
    extra: dict[str, Any] = {}
    if "fd" in names:
        mu, sigma = feature_statistics(fake_feats)
        scores[ex.spec.score_name("fd")] = frechet_distance(ref.mu, ref.sigma, mu, sigma)
    if "kd" in names:
        kd = kernel_distance(ref.features, fake_feats, num_subsets=100, subset_size=1000,
                             seed=seed)
        scores[ex.spec.score_name("kd")] = kd.mean
        scores[ex.spec.score_name("kd") + "-std"] = kd.std
        extra["kd"] = {"subsets": 100, "subset_size": min(1000, ref.count, len(fakes))}
    if "is" in names:
        splits = 10 if len(fakes) >= 10 else 1
        score = inception_score(ex.probabilities(fakes), splits=splits)
        scores[ex.spec.score_name("is")] = score.mean
        scores[ex.spec.score_name("is") + "-std"] = score.std
        extra["is"] = {"splits": splits}
    if "pr" in names:
        # Equal sample counts on both sides: recall from 500 fakes against 10k reals would
        # measure the sample size, not the generator.
        m = min(ref.count, len(fakes))
        pick = np.sort(np.random.default_rng(seed).choice(ref.count, m, replace=False))
        pr = precision_recall(ref.features[pick], fake_feats[:m], k=3)
        scores[ex.spec.score_name("precision")] = pr.precision
        scores[ex.spec.score_name("recall")] = pr.recall
        extra["pr"] = {"k": 3, "n_real": m, "n_fake": m}
    from ganzoo import __version__

    full = {
        "metrics": names,
        "score_names": {m: ex.spec.score_name(m) for m in ("fd", "kd", "is", "precision",
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


@torch.no_grad()
def generate_images(G: nn.Module, n: int, *, nz: int, num_classes: int = 0, seed: int = 0,
                    batch: int = 250, device: str | torch.device = "cpu") -> torch.Tensor:
    """``n`` uint8 samples of ``G`` from the shared latent sampler (same seed, same images)."""
    from ganzoo.latents import class_labels, sample_latents

    z = torch.from_numpy(sample_latents(n, nz, seed))
    labels = class_labels(n, num_classes)
    was_training = G.training
    G.eval()
    out = []
    try:
        for start in range(0, n, batch):
            zb = z[start:start + batch].to(device)
            lb = (None if labels is None
                  else torch.from_numpy(labels[start:start + batch]).to(device))
            out.append(quantize(G(zb, lb).float()).cpu())
    finally:
        G.train(was_training)
    return torch.cat(out)


def evaluate(run: Any, *, metrics: str | Sequence[str] = METRICS, n: int = 10000,
             extractor: str = "fmnist", seed: int = 0, data: str | ImageData | None = None,
             checkpoint: Any = None, device: str | torch.device = "cpu",
             cache: Path | None = None, extractor_options: dict[str, Any] | None = None,
             batch: int = 250) -> EvalResult:
    """Score a run's EMA generator (or a ``generator.safetensors``) against its dataset.

    ``data`` overrides the reference (a dataset name, a path, or loaded images); by default
    it is the dataset the run trained on, at the run's resolution.
    """
    from ganzoo.models import load_generator

    if n < 2:
        raise GanzooError(f"-n must be at least 2, got {n}")
    names = parse_metrics(metrics)
    ex = load_extractor(extractor, device=device, **(extractor_options or {}))  # fail fast
    ex.batch = batch
    G, info = load_generator(run, checkpoint=checkpoint, device=str(device))
    cfg = info["generator_config"]
    if data is None:
        config = info.get("config")
        if config is None:
            raise GanzooError(f"{run} is a generator file without its run's dataset; name the "
                              "reference with --data (e.g. --data fashion-mnist)")
        data = config["data"]["spec"]
    reference = data if isinstance(data, ImageData) else load_data(str(data), cfg.resolution)
    fakes = generate_images(G, n, nz=cfg.nz, num_classes=cfg.num_classes, seed=seed,
                            batch=batch, device=device)
    return score_images(fakes, reference, metrics=names, extractor=ex, seed=seed,
                        device=device, cache=cache, protocol={
                            "step": info["step"], "checkpoint": str(info["checkpoint"]),
                            "generator": info["arch"], "recipe": info["recipe_name"],
                            "latents": "ganzoo-normal/1", "labels": LABELS,
                        })


# -- during training -------------------------------------------------------------------------

BEST_CHECKPOINT = "best.safetensors"


class TrainingEvaluator:
    """What ``ganzoo train --eval-every N`` runs every N steps on the main process: score the
    EMA generator, log it to ``metrics.jsonl``, and keep the best checkpoint by Fréchet
    distance as ``checkpoints/best.safetensors`` (not a step checkpoint, so never pruned)."""

    def __init__(self, data: ImageData, *, n: int, extractor: str = "fmnist",
                 metrics: Sequence[str] = ("fd", "kd", "pr"), seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        self.data, self.n, self.metrics, self.seed = data, n, list(metrics), seed
        self.extractor = load_extractor(extractor, device=device)
        if data.channels not in self.extractor.spec.channels:
            raise GanzooError(f"train.eval_extractor={extractor} takes "
                              f"{self.extractor.spec.channels}-channel images, the data has "
                              f"{data.channels}; set train.eval_extractor to one that fits")
        self.device = device
        self.best: float | None = None

    def _best_so_far(self, path: Path, key: str) -> float | None:
        """The score the existing best checkpoint was kept for (a resumed run continues)."""
        from safetensors import safe_open

        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            return float(json.loads(meta.get("eval", "{}"))[key])
        except Exception:
            return None

    def __call__(self, trainer: Any) -> EvalResult:
        from ganzoo.fileio import atomic_write
        from ganzoo.train import checkpoint as ckpt
        from ganzoo.train.guard import Diverged
        from ganzoo.train.run import append_metrics

        cfg = trainer.recipe.generator
        fakes = generate_images(trainer.G_ema, self.n, nz=cfg.nz, num_classes=cfg.num_classes,
                                seed=self.seed, device=trainer.device)
        result = score_images(fakes, self.data, metrics=self.metrics, extractor=self.extractor,
                              seed=self.seed, protocol={
                                  "step": trainer.step, "checkpoint": "training (EMA)",
                                  "generator": trainer.recipe.generator_arch,
                                  "recipe": trainer.recipe.name,
                                  "latents": "ganzoo-normal/1", "labels": LABELS})
        append_metrics(trainer.run_dir, result.record())
        key = result.best_key()
        if key in result.scores:
            path = trainer.run_dir / "checkpoints" / BEST_CHECKPOINT
            if self.best is None:
                self.best = self._best_so_far(path, key)
            score = result.scores[key]
            # a NaN/Inf score is never "better": it would replace a good best for good
            if math.isfinite(score) and (self.best is None or score < self.best):
                tensors, meta = trainer.state()
                bad = ckpt.first_non_finite(tensors)
                if bad is not None:  # the same refusal as the trainer's checkpoints
                    raise Diverged(f"training diverged by step {trainer.step}: {bad} holds "
                                   f"NaN/Inf, so {path} was not written (the last good "
                                   f"checkpoint is {trainer.last_checkpoint}); lower the "
                                   "learning rate and start a new run")
                self.best = score
                meta = {**meta, "format": ckpt.FORMAT, "step": str(trainer.step),
                        "eval": json.dumps(result.scores), "eval_protocol":
                        json.dumps(result.protocol)}
                atomic_write(path, ckpt.encode(tensors, meta))  # with its digest
        return result
