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
"""

from __future__ import annotations

import numpy as np

from ganzoo.errors import GanzooError

LATENT_SAMPLER = "ganzoo-normal/1"
_MASK = 0xFFFFFFFF
_TWO32 = 4294967296.0


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


def sample_latents(n: int, nz: int, seed: int = 0) -> np.ndarray:
    """``[n, nz]`` float32 standard-normal latents, the same for a seed on every platform."""
    seed = check_seed(seed)
    if n < 0 or nz < 1:
        raise GanzooError(f"latents need n >= 0 and nz >= 1, got n={n}, nz={nz}")
    count = n * nz
    pairs = (count + 1) // 2
    if 2 * pairs > 2**32:
        raise GanzooError(f"{n} x {nz} latents is more than one call can draw; ask for fewer")
    key = _mix(np.array([seed ^ 0x9E3779B9], dtype=np.uint32))[0]
    counters = np.arange(2 * pairs, dtype=np.uint64).astype(np.uint32)  # 2p, 2p+1, ...
    words = (_mix(_mix(counters) ^ key)).astype(np.float64).reshape(pairs, 2)
    u0 = (words[:, 0] + 0.5) / _TWO32
    u1 = words[:, 1] / _TWO32
    r = np.sqrt(-2.0 * np.log(u0))
    angle = 2.0 * np.pi * u1
    values = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1).reshape(-1)[:count]
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
