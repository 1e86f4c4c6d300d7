"""The one latent sampler: the same seed gives the same latents in torch, onnxruntime and apps.

``ganzoo sample`` (torch), ``ganzoo generate`` / :mod:`ganzoo.runtime` (onnxruntime) and the
example app all draw latents here, so a seed means the same images everywhere. It needs numpy
only, and it is written to be re-implemented in a few lines of any language (a browser app
included) with 32-bit integer arithmetic and float64 maths. The algorithm, named
``ganzoo-normal/1`` in exported models' metadata:

1. ``key = mix(seed ^ 0x9E3779B9)`` for a seed in ``0 .. 2**32-1``.
2. Latent element ``k`` (row-major over ``[n, nz]``) belongs to pair ``p = k // 2``; its two
   uniform words are ``b0 = mix(mix(2p) ^ key)`` and ``b1 = mix(mix(2p + 1) ^ key)``.
3. Box-Muller in float64: ``u0 = (b0 + 0.5) / 2**32``, ``u1 = b1 / 2**32``,
   ``r = sqrt(-2 ln u0)``; element ``2p`` is ``r cos(2 pi u1)``, element ``2p + 1`` is
   ``r sin(2 pi u1)``; each rounded to float32.

``mix`` is a 32-bit integer hash (all arithmetic modulo 2**32; ``>>`` is a logical shift)::

    x ^= x >> 17; x *= 0xED5AD4BB; x ^= x >> 11; x *= 0xAC4C1B51
    x ^= x >> 15; x *= 0x31848BAB; x ^= x >> 14

In JavaScript ``x = Math.imul(x, C)`` and ``x >>> S`` do exactly this. Element ``k`` depends on
``k`` and the seed only, so the first rows of a larger request equal a smaller one.

Truncation (the truncation trick of BigGAN, Brock et al. 2019) with ``psi``: an element whose
absolute value is above ``psi`` is redrawn, element by element, from round ``r = 1, 2, ...``:
the same steps 2-3 with the round's key ``mix(((seed ^ 0x9E3779B9) + r * 0x632BE5AB) mod
2**32)`` (round 0 is step 1's key), until it lies within ``psi``. Smaller ``psi``: latents
nearer the mode, images more typical and less varied.
"""

from __future__ import annotations

import numpy as np

from ganzoo.errors import GanzooError

LATENT_SAMPLER = "ganzoo-normal/1"
_MASK = 0xFFFFFFFF
_TWO32 = 4294967296.0
_ROUND_STEP = 0x632BE5AB
MIN_TRUNCATION = 0.05  # below it, redrawing takes hundreds of rounds for what is nearly z = 0


def _mix(x: np.ndarray) -> np.ndarray:
    """The 32-bit hash of the module docstring, on a uint32 array (wraps modulo 2**32)."""
    x = x.astype(np.uint32, copy=True)
    x ^= x >> np.uint32(17)
    x *= np.uint32(0xED5AD4BB)
    x ^= x >> np.uint32(11)
    x *= np.uint32(0xAC4C1B51)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x31848BAB)
    x ^= x >> np.uint32(14)
    return x


def check_seed(seed: int) -> int:
    """``seed`` as an int in ``0 .. 2**32-1``, or a GanzooError saying so."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
            0 <= int(seed) <= _MASK):
        raise GanzooError(f"the seed must be an integer from 0 to {_MASK}, got {seed!r}")
    return int(seed)


def check_truncation(psi: float | None) -> float | None:
    """``psi`` as a float of at least :data:`MIN_TRUNCATION`, ``None`` for no truncation."""
    if psi is None:
        return None
    if isinstance(psi, bool) or not isinstance(psi, (int, float, np.number)) or not (
            np.isfinite(psi) and psi >= MIN_TRUNCATION):
        raise GanzooError(f"--truncation must be a number of at least {MIN_TRUNCATION} (the "
                          f"largest |z| kept; 1 is typical, 2 changes little), got {psi!r}")
    return float(psi)


def _round_key(seed: int, r: int) -> np.uint32:
    start = ((seed ^ 0x9E3779B9) + r * _ROUND_STEP) & _MASK
    return _mix(np.array([start], dtype=np.uint32))[0]


def _elements(k: np.ndarray, key: np.uint32) -> np.ndarray:
    """Latent elements ``k`` (uint64 indices) under ``key``, float64 (steps 2-3)."""
    pair = k // np.uint64(2)
    counters = np.stack([2 * pair, 2 * pair + np.uint64(1)]).astype(np.uint32)
    words = _mix(_mix(counters) ^ key).astype(np.float64)
    u0 = (words[0] + 0.5) / _TWO32
    u1 = words[1] / _TWO32
    r = np.sqrt(-2.0 * np.log(u0))
    angle = 2.0 * np.pi * u1
    return np.where(k % np.uint64(2) == 0, r * np.cos(angle), r * np.sin(angle))


def sample_latents(n: int, nz: int, seed: int = 0, truncation: float | None = None,
                   ) -> np.ndarray:
    """``[n, nz]`` float32 standard-normal latents, the same for a seed on every platform;
    with ``truncation`` psi, every element within ``[-psi, psi]`` (the module docstring)."""
    seed = check_seed(seed)
    psi = check_truncation(truncation)
    if n < 0 or nz < 1:
        raise GanzooError(f"latents need n >= 0 and nz >= 1, got n={n}, nz={nz}")
    count = n * nz
    if count + count % 2 > 2**32:
        raise GanzooError(f"{n} x {nz} latents is more than one call can draw; ask for fewer")
    values = _elements(np.arange(count, dtype=np.uint64), _round_key(seed, 0))
    if psi is not None:
        outside = np.flatnonzero(np.abs(values) > psi)
        r = 0
        while outside.size:
            r += 1
            values[outside] = _elements(outside.astype(np.uint64), _round_key(seed, r))
            outside = outside[np.abs(values[outside]) > psi]
    return values.astype(np.float32).reshape(n, nz)


def class_labels(n: int, num_classes: int, class_index: int | None = None) -> np.ndarray | None:
    """Labels for ``n`` samples: all ``class_index``, or classes in turn (0, 1, ..., 0, 1, ...).

    ``None`` for an unconditional generator (``num_classes == 0``); a GanzooError for a class
    given to one, or a class out of range.
    """
    if not num_classes:
        if class_index is not None:
            raise GanzooError("this generator is not class-conditional; drop --class")
        return None
    if class_index is None:
        return np.arange(n, dtype=np.int64) % num_classes
    if not 0 <= class_index < num_classes:
        raise GanzooError(f"--class must be in 0..{num_classes - 1}, got {class_index}")
    return np.full((n,), class_index, dtype=np.int64)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation from rows ``a`` to rows ``b`` (``t`` in [0, 1]): it keeps the
    norm that Gaussian latents concentrate at, which a straight line between them loses."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = np.sum(a64 * b64, axis=-1, keepdims=True) / np.maximum(
        np.linalg.norm(a64, axis=-1, keepdims=True) * np.linalg.norm(b64, axis=-1,
                                                                     keepdims=True), 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    sin = np.sin(omega)
    near = sin < 1e-6  # (anti)parallel rows: the straight line is as good
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * omega) / np.where(near, 1.0, sin))
    wb = np.where(near, t, np.sin(t * omega) / np.where(near, 1.0, sin))
    return (wa * a64 + wb * b64).astype(np.float32)


def walk_latents(n: int, keys: int, frames: int, nz: int, seed: int = 0,
                 truncation: float | None = None) -> np.ndarray:
    """``[keys * frames, n, nz]`` latents of ``n`` looped walks, each through ``keys`` seeded
    latents with ``frames`` slerp steps from one to the next (the last back to the first).

    Key latent ``s`` of walk ``j`` is row ``s * n + j`` of ``sample_latents(keys * n, ...)``,
    so the first frame is the grid ``ganzoo sample -n N --seed S`` draws.
    """
    if keys < 2:
        raise GanzooError(f"--interpolate needs at least 2 latents to walk between, got {keys}")
    if frames < 1:
        raise GanzooError(f"--frames must be at least 1 (steps from one latent to the next), "
                          f"got {frames}")
    points = sample_latents(keys * n, nz, seed, truncation).reshape(keys, n, nz)
    return np.stack([slerp(points[s], points[(s + 1) % keys], f / frames)
                     for s in range(keys) for f in range(frames)])


def check_class_walk(num_classes: int, keys: int) -> None:
    """A class walk through ``keys`` classes needs a conditional generator with that many."""
    if not num_classes:
        raise GanzooError("--class-walk walks through a conditional generator's classes and "
                          "this generator is unconditional: drop --class-walk (--interpolate "
                          "alone walks through latents)")
    if num_classes == 1:
        raise GanzooError("--class-walk: this generator has one class, so there is nothing to "
                          "walk through; drop --class-walk")
    if keys > num_classes:
        raise GanzooError(f"--class-walk with --interpolate {keys} visits {keys} classes per "
                          f"cell, but this generator has {num_classes}: use --interpolate "
                          f"2 to {num_classes}")


def class_walk(n: int, keys: int, frames: int, num_classes: int,
               class_index: int | None = None) -> np.ndarray:
    """``[keys * frames, n, num_classes]`` float32 class weights of ``n`` looped class walks.

    Cell ``j`` starts at its class of :func:`class_labels` (``j % num_classes``, or
    ``class_index``) and moves through the next ``keys - 1`` classes in turn, blending linearly
    over ``frames`` frames from one to the next (the last back to the first). Key frames are
    one-hot, so frame 0 with the grid's latents is the grid ``ganzoo sample -n N`` draws.
    """
    check_class_walk(num_classes, keys)
    if frames < 1:
        raise GanzooError(f"--frames must be at least 1 (steps from one class to the next), "
                          f"got {frames}")
    start = class_labels(n, num_classes, class_index)
    one_hot = np.eye(num_classes, dtype=np.float32)
    stops = [one_hot[(start + s) % num_classes] for s in range(keys)]
    return np.stack([(1 - f / frames) * stops[s] + (f / frames) * stops[(s + 1) % keys]
                     for s in range(keys) for f in range(frames)]).astype(np.float32)
