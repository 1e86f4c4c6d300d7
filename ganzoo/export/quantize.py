"""``ganzoo export --quantize int8``: static QDQ quantization, calibrated on the generator's own
latents, and the quality it costs, measured against the float32 graph on the same latents.

Settings, chosen for onnxruntime's x86 int8 kernels (AVX-512 VNNI's ``vpdpbusd`` multiplies
unsigned by signed bytes): weights int8 per output channel, symmetric; activations uint8,
asymmetric (a ReLU output uses all 256 levels); QDQ format, which onnxruntime fuses into
QLinearConv; MinMax calibration (the latents are the model's whole input distribution, so
their ranges are the ranges it meets); ``reduce_range``: weights use 7 of their 8 bits.
Without VNNI (AVX2's ``vpmaddubsw``) onnxruntime sums pairs of u8 x s8 products in int16,
which saturates for full-range weights: on an AVX2 CPU a full-range export drew pixels up to
59 levels away from the same graph on a VNNI CPU or in onnxruntime-web's WASM kernels, which
compute exactly. With 7-bit weights the sums fit, so one file draws the same images on
every CPU and in the browser.

Only Conv, Gemm and MatMul and the ops that move their activations (ReLU, DepthToSpace, the
crop) are quantized: a ConvTranspose has no int8 kernel, which is why
:mod:`ganzoo.export.subpixel` runs first. The last Conv (to the image channels, a few percent
of the work) stays float32 by default: its output goes through tanh straight into the image,
where 8-bit steps of the pre-tanh range show.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from ganzoo.errors import GanzooError
from ganzoo.export.parity import session
from ganzoo.latents import LATENT_SAMPLER, class_labels, sample_latents

QUANTIZE_MODES = ("int8",)
CALIBRATION_METHOD = "MinMax"
MIN_CALIBRATION, MAX_CALIBRATION = 16, 100_000
DEFAULT_CALIBRATION = 256
DEFAULT_CALIBRATION_SEED = 20240518
DEFAULT_QUALITY_COUNT = 1000
# The data-movement ops between convolutions too: quantized, the activations stay uint8 through
# DepthToSpace and the crop (1.4x faster than leaving them float on DCGAN-64, one run).
QUANTIZED_OPS = ["Conv", "Gemm", "MatMul", "Relu", "DepthToSpace", "Slice", "Reshape"]
WEIGHTS = "int8 per-channel symmetric, 7-bit range (reduce_range)"
ACTIVATIONS = "uint8 asymmetric"

# (reference images, images) float32 NCHW in [-1, 1] -> {score name: value}, or a sentence
# saying why the scorer cannot measure these images.
QualityScorer = Callable[[np.ndarray, np.ndarray], "dict[str, float] | str"]


@dataclass(frozen=True)
class CalibrationRequest:
    """What ``--quantize`` asked for, checked before any work is done."""

    mode: str = "int8"
    count: int = DEFAULT_CALIBRATION
    seed: int = DEFAULT_CALIBRATION_SEED
    quality_count: int = DEFAULT_QUALITY_COUNT
    keep_last_fp32: bool = True


def check_request(mode: str | None, *, count: int, seed: int, quality_count: int,
                  fp16: bool, keep_last_fp32: bool = True) -> CalibrationRequest | None:
    """The checked request, or None for no quantization; one GanzooError for a bad one."""
    if mode is None:
        return None
    if mode not in QUANTIZE_MODES:
        raise GanzooError(f"--quantize must be {' or '.join(QUANTIZE_MODES)}, got {mode!r}")
    if fp16:
        raise GanzooError("--quantize int8 quantizes the float32 graph; --fp16 cannot be "
                          "combined with it: drop --fp16 (or --quantize)")
    for name, value, low, high in (("--calibration", count, MIN_CALIBRATION, MAX_CALIBRATION),
                                   ("--quality-n", quality_count, 2, MAX_CALIBRATION)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise GanzooError(f"{name} must be a whole number of latents from {low} to "
                              f"{high}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise GanzooError(f"--calibration-seed must be an integer from 0 to {2**32 - 1}, "
                          f"got {seed!r}")
    return CalibrationRequest(mode, count, seed, quality_count, keep_last_fp32)


def _feeds(nz: int, num_classes: int, count: int, seed: int,
           batch: int = 64) -> list[dict[str, np.ndarray]]:
    z = sample_latents(count, nz, seed)
    labels = class_labels(count, num_classes, None) if num_classes else None
    feeds = []
    for start in range(0, count, batch):
        feed = {"z": z[start:start + batch]}
        if labels is not None:
            feed["labels"] = np.ascontiguousarray(labels[start:start + batch], dtype=np.int64)
        feeds.append(feed)
    return feeds


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over a list of feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self.feeds, self.position = feeds, 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.position == len(self.feeds):
            return None
        self.position += 1
        return self.feeds[self.position - 1]

    def rewind(self) -> None:
        self.position = 0


def _last_conv(model: onnx.ModelProto) -> list[str]:
    """The name of the Conv closest to the output (the one that makes the image channels)."""
    convs = [node.name for node in model.graph.node if node.op_type == "Conv"]
    return convs[-1:]


def quantize_int8(model: onnx.ModelProto, nz: int, num_classes: int,
                  request: CalibrationRequest) -> tuple[onnx.ModelProto, dict[str, str]]:
    """The QDQ int8 graph of float32 ``model`` and the metadata that describes it."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        fp32, prepared, out = (Path(tmp) / name for name in ("fp32.onnx", "pre.onnx",
                                                              "int8.onnx"))
        onnx.save(model, str(fp32))
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        excluded = _last_conv(onnx.load(str(prepared))) if request.keep_last_fp32 else []
        reader = _Reader(_feeds(nz, num_classes, request.count, request.seed))
        quantize_static(
            str(prepared), str(out), reader, quant_format=QuantFormat.QDQ,
            op_types_to_quantize=QUANTIZED_OPS, per_channel=True, reduce_range=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded, calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        quantized = onnx.load(str(out))
    ops = [node.op_type for node in quantized.graph.node]
    if "QuantizeLinear" not in ops:
        raise GanzooError("onnxruntime's quantizer found nothing to quantize in this graph "
                          "(no Conv, Gemm or MatMul); export without --quantize")
    props = {
        "precision": "int8",
        "quantization": json.dumps({
            "mode": "int8", "format": "QDQ", "weights": WEIGHTS, "activations": ACTIVATIONS,
            "ops": QUANTIZED_OPS, "fp32_nodes": excluded, "reduce_range": True}),
        "calibration": json.dumps({
            "method": CALIBRATION_METHOD, "count": request.count, "seed": request.seed,
            "latent_sampler": LATENT_SAMPLER,
            "labels": "classes in turn" if num_classes else "none"}),
    }
    return quantized, props


def quality_cost(fp32_bytes: bytes, int8_bytes: bytes, nz: int, num_classes: int,
                 request: CalibrationRequest, scorer: QualityScorer | None) -> dict:
    """The int8 graph against the float32 graph on the same latents (not the calibration
    ones): abs error of the images, and the scorer's scores (fd-fmnist from the CLI)."""
    seed = (request.seed + 1) % 2**32
    feeds = _feeds(nz, num_classes, request.quality_count, seed)
    runs = []
    for model_bytes in (fp32_bytes, int8_bytes):
        sess = session(model_bytes)
        runs.append(np.concatenate([sess.run(["images"], feed)[0] for feed in feeds]))
    reference, images = runs
    if reference.dtype == np.uint8:  # a --uint8 export: compare in [-1, 1] units
        reference, images = (np.ascontiguousarray(
            (x.astype(np.float32) / 127.5 - 1.0).transpose(0, 3, 1, 2)) for x in runs)
    diff = np.abs(images.astype(np.float64) - reference)
    cost: dict = {"n": request.quality_count, "latent_seed": seed,
                  "against": "the float32 graph, same latents",
                  "max_abs_error": round(float(diff.max()), 6),
                  "mean_abs_error": round(float(diff.mean()), 6)}
    if not np.isfinite(diff).all():
        raise GanzooError("the int8 graph makes non-finite images; export without --quantize "
                          "and report this")
    if scorer is None:
        cost["not_measured"] = "no image scorer was given (ganzoo export passes fd-fmnist)"
        return cost
    scores = scorer(reference, images)
    if isinstance(scores, str):
        cost["not_measured"] = scores
    else:
        cost.update({name: round(float(value), 6) for name, value in scores.items()})
    return cost
