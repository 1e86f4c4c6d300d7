"""Sample-quality maths: Fréchet distance, kernel distance, Inception score, precision/recall.

Every function here is pure: it takes features (or class probabilities) that some extractor has
already produced, as numpy arrays or torch tensors of shape ``[N, D]``, and returns plain floats.
Keeping the maths apart from the networks lets any pluggable extractor share it, and lets the
tests check it against independent references on small random data.

Statistics are accumulated in float64: FID subtracts traces of similar size, and float32
round-off is large enough to move the reported number.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ganzoo.errors import GanzooError

ArrayLike = np.ndarray | torch.Tensor


class MeanStd(NamedTuple):
    """A score averaged over subsets or splits, with its spread across them."""

    mean: float
    std: float


class PrecisionRecall(NamedTuple):
    """Fraction of fakes on the real manifold (precision) and of reals on the fake one (recall)."""

    precision: float
    recall: float


def _as_float64(x: ArrayLike, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise GanzooError(
            f"{name} contains NaN or infinite values; check the extractor input "
            "(images must be finite floats in [-1, 1])."
        )
    return arr


def _features_2d(x: ArrayLike, name: str, min_rows: int = 2) -> np.ndarray:
    arr = _as_float64(x, name)
    if arr.ndim != 2:
        raise GanzooError(
            f"{name} must be a 2-D [num_samples, feature_dim] array, got shape {arr.shape}; "
            "flatten per-sample features first."
        )
    if arr.shape[0] < min_rows:
        raise GanzooError(
            f"{name} has {arr.shape[0]} samples but at least {min_rows} are needed; "
            "evaluate on more images."
        )
    return arr


# --------------------------------------------------------------------------------------------
# Fréchet distance (FID when the features come from Inception)
# --------------------------------------------------------------------------------------------


def feature_statistics(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of ``[N, D]`` features, in float64.

    These two arrays are all FID needs from a sample set, so they can be cached per dataset.
    """
    feats = _features_2d(features, "features")
    mu = feats.mean(axis=0)
    sigma = np.cov(feats, rowvar=False)
    return mu, np.atleast_2d(sigma)


def _clipped_eigvals(w: np.ndarray) -> np.ndarray:
    """Zero eigenvalues below round-off (as ``matrix_rank`` does): their square roots would
    otherwise add noise of order √eps for every null direction of a rank-deficient covariance.
    """
    tol = max(float(w.max()), 0.0) * w.shape[0] * np.finfo(np.float64).eps
    return np.where(w > tol, w, 0.0)


def _symmetric_sqrt(a: np.ndarray) -> np.ndarray:
    """Principal square root of a symmetric PSD matrix."""
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(_clipped_eigvals(w))) @ v.T


def frechet_distance(
    mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike, eps: float = 1e-6
) -> float:
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    d² = |mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1 S2)^½).  The trace term is computed as
    tr((√S1 S2 √S1)^½): that matrix is symmetric PSD and similar to S1 S2, so two symmetric
    eigen-decompositions give it without the complex round-off of a general ``sqrtm``, and
    singular covariances (fewer samples than dimensions) are handled exactly.  Only if an
    eigen-decomposition fails to converge are both covariances offset by ``eps * I``.
    """
    m1 = np.atleast_1d(_as_float64(mu1, "mu1"))
    m2 = np.atleast_1d(_as_float64(mu2, "mu2"))
    s1 = np.atleast_2d(_as_float64(sigma1, "sigma1"))
    s2 = np.atleast_2d(_as_float64(sigma2, "sigma2"))
    d = m1.shape[0]
    if m1.shape != (d,) or m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise GanzooError(
            "frechet_distance needs two means of shape [D] and two covariances of shape [D, D] "
            f"with the same D; got {m1.shape}, {s1.shape}, {m2.shape}, {s2.shape}. "
            "Compute both sets of statistics with the same feature extractor."
        )
    # Symmetrise: covariances loaded from disk or summed in float32 may be off by round-off.
    s1 = (s1 + s1.T) / 2
    s2 = (s2 + s2.T) / 2
    try:
        tr_covmean = _trace_sqrt_product(s1, s2)
    except np.linalg.LinAlgError:
        offset = eps * np.eye(d)
        tr_covmean = _trace_sqrt_product(s1 + offset, s2 + offset)
    diff = m1 - m2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    root1 = _symmetric_sqrt(s1)
    inner = root1 @ s2 @ root1
    w = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sqrt(_clipped_eigvals(w)).sum())


# --------------------------------------------------------------------------------------------
# Kernel distance (KID)
# --------------------------------------------------------------------------------------------


def _cubic_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kernel_distance(
    feats_real: ArrayLike,
    feats_fake: ArrayLike,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> MeanStd:
    """Kernel Inception distance (Bińkowski et al. 2018): unbiased MMD² with k(x,y)=(x·y/d+1)³.

    Unlike FID it is unbiased in the number of samples, so small evaluation sets compare
    fairly.  The estimate is averaged over ``num_subsets`` random subsets of ``subset_size``
    samples from each side (clipped to the smaller sample count); ``std`` is the population
    standard deviation across subsets.  Subsets are drawn, for reproducibility, as
    ``rng = np.random.default_rng(seed)`` and then, per subset, ``rng.choice(n_real, m,
    replace=False)`` followed by ``rng.choice(n_fake, m, replace=False)``.
    """
    real = _features_2d(feats_real, "feats_real")
    fake = _features_2d(feats_fake, "feats_fake")
    if real.shape[1] != fake.shape[1]:
        raise GanzooError(
            f"feats_real has dimension {real.shape[1]} but feats_fake has {fake.shape[1]}; "
            "extract both with the same network."
        )
    if num_subsets < 1 or subset_size < 2:
        raise GanzooError(
            f"num_subsets must be >= 1 and subset_size >= 2 (got {num_subsets}, {subset_size})."
        )
    m = min(subset_size, real.shape[0], fake.shape[0])
    rng = np.random.default_rng(seed)
    scores = np.empty(num_subsets)
    for i in range(num_subsets):
        x = real[rng.choice(real.shape[0], m, replace=False)]
        y = fake[rng.choice(fake.shape[0], m, replace=False)]
        k_xx = _cubic_kernel(x, x)
        k_yy = _cubic_kernel(y, y)
        k_xy = _cubic_kernel(x, y)
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        scores[i] = within - 2.0 * k_xy.sum() / (m * m)
    return MeanStd(float(scores.mean()), float(scores.std()))


# --------------------------------------------------------------------------------------------
# Inception score
# --------------------------------------------------------------------------------------------


def inception_score(probs: ArrayLike, splits: int = 10) -> MeanStd:
    """Inception score exp(E_x KL(p(y|x) || p(y))) from ``[N, C]`` class probabilities.

    High when each sample is confidently one class and the classes are used evenly; it ranges
    from 1 to C.  Computed on ``splits`` contiguous chunks, as is customary, and reported as
    mean and population standard deviation over them.
    """
    p = _features_2d(probs, "probs", min_rows=1)
    if splits < 1 or splits > p.shape[0]:
        raise GanzooError(
            f"splits must be between 1 and the number of samples ({p.shape[0]}), got {splits}."
        )
    if p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise GanzooError(
            "probs must be class probabilities (non-negative rows summing to 1); "
            "apply softmax to the logits first."
        )
    scores = []
    for chunk in np.array_split(p, splits):
        marginal = chunk.mean(axis=0, keepdims=True)
        # 0 * log 0 counts as 0: a class a sample never predicts contributes nothing.
        ratio = np.where(chunk > 0, chunk / np.where(marginal > 0, marginal, 1.0), 1.0)
        kl = (chunk * np.log(ratio)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    arr = np.asarray(scores)
    return MeanStd(float(arr.mean()), float(arr.std()))


# --------------------------------------------------------------------------------------------
# Improved precision and recall (Kynkäänniemi et al. 2019)
# --------------------------------------------------------------------------------------------


def _as_torch_2d(x: ArrayLike, name: str, min_rows: int) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x.detach().to(torch.float64)
        if not torch.isfinite(t).all():
            raise GanzooError(f"{name} contains NaN or infinite values; check the extractor input.")
        if t.ndim != 2 or t.shape[0] < min_rows:
            raise GanzooError(
                f"{name} must be a [num_samples, feature_dim] array with at least {min_rows} "
                f"samples, got shape {tuple(t.shape)}."
            )
        return t
    return torch.from_numpy(_features_2d(x, name, min_rows))


def _pairwise_sq_dists(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    a_sq = (a * a).sum(dim=1, keepdim=True)
    return (a_sq + b_sq[None, :] - 2.0 * (a @ b.T)).clamp_min_(0.0)


def _knn_radii(feats: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Squared distance from each sample to its k-th nearest neighbour in the same set."""
    sq = (feats * feats).sum(dim=1)
    radii = torch.empty(feats.shape[0], dtype=feats.dtype, device=feats.device)
    for start in range(0, feats.shape[0], batch_size):
        d = _pairwise_sq_dists(feats[start : start + batch_size], feats, sq)
        # The sample itself is the nearest (distance 0), so the k-th neighbour is entry k.
        radii[start : start + batch_size] = d.topk(k + 1, dim=1, largest=False).values[:, k]
    return radii


def precision_recall(
    feats_real: ArrayLike, feats_fake: ArrayLike, k: int = 3, batch_size: int = 1024
) -> PrecisionRecall:
    """k-NN manifold precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its samples, with radius the distance to
    the sample's k-th nearest neighbour.  Precision is the fraction of fakes inside the real
    manifold (are samples realistic?); recall the fraction of reals inside the fake manifold
    (is the data's variety covered?).  Distances are computed ``batch_size`` rows at a time in
    float64, so 10k × 10k sets need only ``batch_size × 10k`` floats at once; torch tensors
    stay on their device.
    """
    if k < 1:
        raise GanzooError(f"k must be a positive integer, got {k}.")
    real = _as_torch_2d(feats_real, "feats_real", k + 1)
    fake = _as_torch_2d(feats_fake, "feats_fake", k + 1).to(real.device)
    if real.shape[1] != fake.shape[1]:
        raise GanzooError(
            f"feats_real has dimension {real.shape[1]} but feats_fake has {fake.shape[1]}; "
            "extract both with the same network."
        )
    radii_real = _knn_radii(real, k, batch_size)
    radii_fake = _knn_radii(fake, k, batch_size)
    fake_sq = (fake * fake).sum(dim=1)
    fake_covered = torch.zeros(fake.shape[0], dtype=torch.bool, device=real.device)
    real_covered = torch.empty(real.shape[0], dtype=torch.bool, device=real.device)
    for start in range(0, real.shape[0], batch_size):
        d = _pairwise_sq_dists(real[start : start + batch_size], fake, fake_sq)
        fake_covered |= (d <= radii_real[start : start + batch_size, None]).any(dim=0)
        real_covered[start : start + batch_size] = (d <= radii_fake[None, :]).any(dim=1)
    return PrecisionRecall(float(fake_covered.double().mean()), float(real_covered.double().mean()))
