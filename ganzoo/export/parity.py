"""Does the ONNX graph compute what the torch generator computes? Checked with onnxruntime.

The reference is the user's own module in eval mode (parametrizations and all), in float32, on
fresh random latents, so the check covers the whole export: weight baking, the exporter, its
graph optimizations, the fp16 conversion and the baked uint8 post-processing.

Tolerances, on images in [-1, 1] (one 8-bit level is 2/255 ~ 0.0078):

- float32: max abs error ``1e-4``. Both sides compute in float32 and differ only in summation
  order and fused kernels (~1e-6 in practice); 1e-4 is still a hundredth of one level.
- float16: max abs error ``0.03`` and mean abs error ``0.002``. float16 keeps 11 significant
  bits (relative rounding 2**-11 ~ 4.9e-4) on every weight and activation; pre-tanh
  activations of a trained generator reach |a| ~ 3-5, where one float16 step is 0.002-0.004,
  and several layers add a few steps. Measured on DCGANs (64-128 px, ngf 64-128, weights and
  BatchNorm statistics at trained-like scale): max 0.010-0.013, mean 7e-4. The bounds leave
  2-3x headroom (max ~ 4 levels, mean ~ a quarter level), while a wrong graph (BatchNorm in
  training mode, a lost layer, stale weights) is off by 0.05 or more on average.
- uint8: each value must lie between ``to_uint8(reference - max_tol)`` and
  ``to_uint8(reference + max_tol)``: the graph's post-processing is ``to_uint8`` exactly, and
  only a value within the float tolerance of a rounding boundary may round the other way;
  the mean of ``|output - to_uint8(reference)| / 127.5`` is held to the mean tolerance.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ganzoo.images import to_uint8
from ganzoo.latents import sample_latents

FP32_TOLERANCE = 1e-4
FP16_TOLERANCE = 0.03
FP16_MEAN_TOLERANCE = 0.002


def default_tolerance(fp16: bool) -> tuple[float, float]:
    """(max, mean) abs error allowed for a float32 or float16 graph."""
    return (FP16_TOLERANCE, FP16_MEAN_TOLERANCE) if fp16 else (FP32_TOLERANCE, FP32_TOLERANCE)


@dataclass
class ParityReport:
    """Largest error over every checked batch, and whether it is within ``tolerance``."""

    ok: bool
    max_abs_error: float  # in image units ([-1, 1]); for uint8 graphs, in 8-bit levels
    mean_abs_error: float  # in image units, for uint8 graphs too
    tolerance: float
    mean_tolerance: float
    seed: int
    batches: tuple[int, ...]
    outside: int = 0  # uint8 values outside the allowed interval
    uint8: bool = False

    def describe(self) -> str:
        checked = f"batches {', '.join(map(str, self.batches))}, latent seed {self.seed}"
        verdict = "passed" if self.ok else "FAILED"
        mean = (f"mean abs error {self.mean_abs_error:.3g} (tolerance "
                f"{self.mean_tolerance:.3g})")
        if self.uint8:
            return (f"parity {verdict}: uint8 output {self.outside} values outside torch "
                    f"+- {self.tolerance:.3g}, max {self.max_abs_error:.0f} levels from "
                    f"to_uint8(torch), {mean}; {checked}")
        return (f"parity {verdict}: max abs error {self.max_abs_error:.3g} (tolerance "
                f"{self.tolerance:.3g}), {mean}; {checked}")


def session(model_bytes: bytes, threads: int | None = None):
    """A CPU onnxruntime session on serialized model bytes."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def check_parity(model_bytes: bytes, G: torch.nn.Module, nz: int, num_classes: int, *,
                 tolerance: float, mean_tolerance: float | None = None,
                 uint8: bool = False, batches: Sequence[int] = (1, 7, 64),
                 seed: int | None = None) -> ParityReport:
    """Run the graph and ``G`` on the same random latents (and labels) at each batch size."""
    seed = secrets.randbits(32) if seed is None else seed
    mean_tolerance = tolerance if mean_tolerance is None else mean_tolerance
    failed = ParityReport(False, float("inf"), float("inf"), tolerance, mean_tolerance, seed,
                          tuple(batches), uint8=uint8)
    sess = session(model_bytes)
    rng = np.random.default_rng(seed)
    errors, total, count, outside = [0.0], 0.0, 0, 0
    offset = 0
    for n in batches:
        z = sample_latents(offset + n, nz, seed)[offset:]
        offset += n
        feeds = {"z": z}
        labels = None
        if num_classes:
            labels = rng.integers(0, num_classes, size=n, dtype=np.int64)
            feeds["labels"] = labels
        got = sess.run(["images"], feeds)[0]
        with torch.no_grad():
            ref = G(torch.from_numpy(z), None if labels is None else torch.from_numpy(labels))
        ref = ref.detach().float().cpu().numpy()
        if uint8:
            lo, hi = to_uint8(ref - tolerance), to_uint8(ref + tolerance)
            if got.shape != lo.shape or got.dtype != np.uint8:
                return failed
            g = got.astype(np.int16)
            outside += int(((g < lo) | (g > hi)).sum())
            diff = np.abs(g - to_uint8(ref).astype(np.int16))
            total += float(diff.sum()) / 127.5
        else:
            if got.shape != ref.shape:
                return failed
            diff = np.abs(got.astype(np.float64) - ref)
            total += float(diff.sum())
        errors.append(float(diff.max()))
        count += diff.size
    worst = float(np.max(errors))  # NaN propagates, and fails the check below
    mean = total / max(count, 1)
    ok = bool((outside == 0 if uint8 else worst <= tolerance) and mean <= mean_tolerance)
    return ParityReport(ok, worst, mean, tolerance, mean_tolerance, seed, tuple(batches),
                        outside, uint8)
