"""Reference statistics: the real images' features and their Gaussian fit, cached.

They are the slow, repeated part of every score, so they are cached as safetensors under
``GANZOO_CACHE_DIR`` (default ``~/.cache/ganzoo``), keyed by the reference images' own bytes
and the extractor's sha256: a changed dataset or different weights never reuse a stale file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as st_save

from ganzoo.data import ImageData
from ganzoo.errors import GanzooError
from ganzoo.fileio import atomic_write, cache_dir
from ganzoo.metrics.features import LoadedExtractor
from ganzoo.metrics.maths import feature_statistics

CACHE_FORMAT = "ganzoo-reference-stats/1"


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


def _cache_path(extractor: LoadedExtractor, digest: str, cache: Path | None) -> Path:
    folder = (cache or cache_dir()) / "reference"
    return folder / f"{extractor.name}-{extractor.sha256[:16]}-{digest[:24]}.safetensors"


def cached_reference(data: ImageData, extractor: LoadedExtractor, *,
                     cache: Path | None = None) -> ReferenceStats | None:
    """The cached statistics of these exact images and weights, or None when they have not
    been measured yet (or the cache file is unreadable, and will be rewritten)."""
    digest = _images_digest(data.images)
    return _read_cache(_cache_path(extractor, digest, cache), digest, data, extractor)


def _read_cache(path: Path, digest: str, data: ImageData,
                extractor: LoadedExtractor) -> ReferenceStats | None:
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if (meta.get("format") == CACHE_FORMAT and meta.get("images_sha256") == digest
                    and meta.get("extractor_sha256") == extractor.sha256):
                return ReferenceStats(f.get_tensor("features").numpy(),
                                      f.get_tensor("mu").numpy(), f.get_tensor("sigma").numpy(),
                                      data.source, len(data.images), digest, path, True)
    except Exception:  # an unreadable cache file is recomputed and rewritten
        pass
    return None


def reference_statistics(data: ImageData, extractor: LoadedExtractor, *,
                         cache: Path | None = None, use_cache: bool = True,
                         progress: Callable[[int], None] | None = None) -> ReferenceStats:
    """Features of every reference image, from the cache when these exact images and weights
    were measured before; ``progress`` counts the images measured when they were not."""
    images = data.images
    digest = _images_digest(images)
    path = _cache_path(extractor, digest, cache)
    if use_cache and (cached := _read_cache(path, digest, data, extractor)) is not None:
        return cached
    feats = extractor.features(images, progress)
    mu, sigma = feature_statistics(feats)
    if use_cache:
        meta = {"format": CACHE_FORMAT, "images_sha256": digest, "source": data.source,
                "count": str(len(images)), "extractor": extractor.full_name,
                "extractor_sha256": extractor.sha256, "shape": json.dumps(list(images.shape))}
        tensors = {"features": torch.from_numpy(np.ascontiguousarray(feats, np.float32)),
                   "mu": torch.from_numpy(np.ascontiguousarray(mu)),
                   "sigma": torch.from_numpy(np.ascontiguousarray(sigma))}
        try:
            atomic_write(path, st_save(tensors, metadata=meta))
        except OSError as exc:
            raise GanzooError(f"cannot write the reference statistics cache {path} ({exc}); "
                              "set GANZOO_CACHE_DIR to a writable folder") from exc
    return ReferenceStats(feats, mu, sigma, data.source, len(images), digest,
                          path if use_cache else None, False)
