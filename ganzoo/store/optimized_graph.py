"""The cached optimised graph beside a ``generator.onnx`` (torch-free: :mod:`ganzoo.runtime`
loads it when asked to, ``Generator(path, cache=True)`` or ``GANZOO_ORT_CACHE=1``).

onnxruntime rewrites a graph when it loads it (constant folding, fusions, and at
ORT_ENABLE_ALL the CPU's own blocked layouts); ``SessionOptions.optimized_model_filepath``
saves the result, and loading that file with optimisation off skips the work. The saved graph
suits only the onnxruntime version and the CPU instruction set that made it, so both are in
its name, with the model file's own digest: ``generator.onnx`` ->
``generator.optimized-ort1.32.0-cpu-<model sha256, 12>-<CPU flags digest, 8>.onnx``.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import os
import platform
import re
from pathlib import Path

from ganzoo.errors import GanzooError

CACHE_ENV = "GANZOO_ORT_CACHE"
# Off unless asked for: on the zoo's generators it does not shorten the load (DCGAN-64: fp32
# 24 ms without it, 35 ms from it; int8 16 ms both ways), because hashing the model to name
# the cache costs about what the optimiser's work costs (benchmarks/inference.py, RESULTS.md).
CACHE_DEFAULT = False
_CACHE_NAME = r"\.optimized-ort[^-]+-[a-z]+-(?P<model>[0-9a-f]{12})-[0-9a-f]{8}\.onnx"


def cache_setting(cache: bool | None = None) -> bool:
    """Whether :class:`ganzoo.runtime.Generator` caches the optimised graph: ``cache`` when
    given, else ``$GANZOO_ORT_CACHE`` (1 or 0), else :data:`CACHE_DEFAULT`."""
    if cache is not None:
        if not isinstance(cache, bool):
            raise GanzooError(f"cache must be True, False or None, got {cache!r}")
        return cache
    value = os.environ.get(CACHE_ENV, "").strip().lower()
    if not value:
        return CACHE_DEFAULT
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise GanzooError(f"{CACHE_ENV} must be 1 (cache onnxruntime's optimised graph next to the "
                      f"model) or 0 (do not), got {os.environ[CACHE_ENV]!r}")


@functools.cache
def cpu_fingerprint() -> str:
    """A short digest of the instruction-set features this CPU reports (the ``flags`` line of
    /proc/cpuinfo; elsewhere the machine and processor names): the optimised graph's blocked
    layouts and kernels depend on them."""
    features = ""
    with contextlib.suppress(OSError, UnicodeDecodeError), \
            open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):
                features = " ".join(sorted(value.split()))
                break
    features = features or f"{platform.machine()} {platform.processor()}"
    return hashlib.sha256(features.encode()).hexdigest()[:8]


def cache_path(model: str | os.PathLike, ort_version: str, provider: str = "cpu") -> Path:
    """Where the optimised graph of ``model`` is cached for this onnxruntime and CPU."""
    model = Path(model)
    digest = hashlib.sha256()
    with open(model, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    version = re.sub(r"[^0-9A-Za-z.+]", "_", ort_version)
    return model.with_name(f"{model.stem}.optimized-ort{version}-{provider}-"
                           f"{digest.hexdigest()[:12]}-{cpu_fingerprint()}.onnx")


def _cache_digest(model: Path, name: str) -> str | None:
    """The model digest in ``name`` when it is a cached graph of ``model``, else None."""
    found = re.fullmatch(re.escape(model.stem) + _CACHE_NAME, name)
    return found["model"] if found else None


def remove_stale_caches(cache: Path, model: Path) -> None:
    """Remove the cached graphs of earlier versions of ``model`` (another model digest),
    whichever machine made them: the file they came from is gone. This version's caches for
    other CPUs or onnxruntime versions stay."""
    current = _cache_digest(model, cache.name)
    for other in model.parent.glob(f"{glob.escape(model.stem)}.optimized-ort*.onnx"):
        digest = _cache_digest(model, other.name)
        if digest is not None and digest != current:
            with contextlib.suppress(OSError):
                other.unlink()
