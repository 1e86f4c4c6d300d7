"""``ganzoo export``: the EMA generator of a run -> ``generator.safetensors`` + ``generator.onnx``.

Nothing is written until the ONNX graph matches torch on onnxruntime: both files are written
under temporary names, then renamed into place together. A graph that does not match makes a
GanzooError that names the error of every exporter tried, and leaves the folder as it was.

With ``subpixel`` the plain copy's ConvTranspose2d layers become Conv + DepthToSpace first
(:mod:`ganzoo.export.subpixel`); the parity check covers the rewrite. With ``quantize="int8"``
the checked float32 graph is quantized (:mod:`ganzoo.export.quantize`) and its quality cost
against that float32 graph is measured and stored; ``generator.onnx`` is then the int8 graph.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import torch

from ganzoo.build import create_generator
from ganzoo.components import NameTable
from ganzoo.errors import GanzooError
from ganzoo.export import onnx as onnx_export
from ganzoo.export import quantize as int8
from ganzoo.export.parity import ParityReport, check_parity, default_tolerance
from ganzoo.export.subpixel import subpixel_copy
from ganzoo.fileio import fsync_dir, open_temp, write_fd
from ganzoo.latents import LATENT_SAMPLER, class_labels, sample_latents
from ganzoo.loading import load_generator
from ganzoo.store.generator_file import generator_bytes
from ganzoo.store.onnx_metadata import LAYOUTS, GeneratorMetadata
from ganzoo.version import __version__

SAFETENSORS_NAME = "generator.safetensors"
ONNX_NAME = "generator.onnx"

# Accept a graph at once only when its error is this many times below the tolerance.
SAFETY_MARGIN = 4


@dataclass
class ExportResult:
    """What an export wrote, and how well the graph matched torch."""

    onnx_path: Path
    safetensors_path: Path
    exporter: str
    parity: ParityReport
    metadata: GeneratorMetadata
    attempts: list[str]  # one line per exporter tried, failures first
    quality: dict[str, Any] | None = None  # an int8 graph's measured cost against float32


def default_output_dir(source: Path) -> Path:
    """``RUN/export`` for a run folder, the file's own folder for a generator.safetensors."""
    return source.parent if source.is_file() else source / "export"


def export_generator(source: Any, out_dir: Any = None, *, table: NameTable, fp16: bool = False,
                     uint8: bool = False, opset: int = onnx_export.DEFAULT_OPSET,
                     tolerance: tuple[float, float] | None = None, checkpoint: Any = None,
                     exporters: tuple[str, ...] = onnx_export.EXPORTERS,
                     subpixel: bool | None = None, quantize: str | None = None,
                     calibration: int = int8.DEFAULT_CALIBRATION,
                     calibration_seed: int = int8.DEFAULT_CALIBRATION_SEED,
                     quality_count: int = int8.DEFAULT_QUALITY_COUNT,
                     quality: int8.QualityScorer | None = None,
                     log: Callable[[str], None] | None = None) -> ExportResult:
    """Export the EMA generator of run folder (or ``generator.safetensors``) ``source``.

    ``tolerance`` is the (max, mean) abs error allowed (default: see
    :mod:`ganzoo.export.parity`); ``log`` receives one line per exporter tried.
    ``subpixel`` rewrites ConvTranspose2d into Conv + DepthToSpace (default: only for
    ``quantize``, where it is what lets onnxruntime run every layer in int8; a float32 graph
    keeps ConvTranspose, measured no faster rewritten: see benchmarks/inference.py).
    ``quantize="int8"`` calibrates on ``calibration`` latents of ``calibration_seed`` and
    measures the cost on ``quality_count`` other latents with ``quality`` (the CLI passes
    fd-fmnist; without one only the images' abs error is recorded).
    """
    opset = onnx_export.check_opset(opset)
    request = int8.check_request(quantize, count=calibration, seed=calibration_seed,
                                 quality_count=quality_count, fp16=fp16)
    use_subpixel = request is not None if subpixel is None else bool(subpixel)
    source = Path(source)
    if not source.exists():
        raise GanzooError(f"{source} does not exist; pass a run folder made by 'ganzoo train' "
                          "or a generator.safetensors")
    out_dir = Path(out_dir) if out_dir is not None else default_output_dir(source)
    if out_dir.exists() and not out_dir.is_dir():
        raise GanzooError(f"-o {out_dir} is a file; give a folder for the exported files")
    log = log or (lambda message: None)

    G, info = load_generator(source, checkpoint, table=table, device="cpu")
    arch, config = info["arch"], info["generator_config"]
    nz, num_classes = int(config.nz), int(config.num_classes)
    st_bytes = generator_bytes(G, arch, config, info["step"], info["recipe_name"])
    plain = onnx_export.plain_copy(G, lambda: create_generator(arch, config, table=table))
    rewritten = 0
    if use_subpixel:
        z = torch.from_numpy(sample_latents(3, nz, 0))
        example = (z, torch.from_numpy(class_labels(3, num_classes, None))) if num_classes \
            else (z,)
        plain, rewritten = subpixel_copy(plain, example)
        log(f"sub-pixel: {rewritten} ConvTranspose2d rewritten to Conv + DepthToSpace")
    tolerance = default_tolerance(fp16) if tolerance is None else tolerance
    layout = "NHWC" if uint8 else "NCHW"
    base = GeneratorMetadata(
        ganzoo_version=__version__, arch=arch, recipe=info["recipe_name"], nz=nz,
        resolution=int(config.resolution), channels=int(config.channels),
        num_classes=num_classes, step=int(info["step"]), output_layout=layout,
        output_dtype=LAYOUTS[layout][0], output_range=LAYOUTS[layout][1],
        precision="fp16" if fp16 else "fp32", exporter="", latent_sampler=LATENT_SAMPLER,
        safetensors_sha256=hashlib.sha256(st_bytes).hexdigest(),
        inputs="z,labels" if num_classes else "z",
        config=json.dumps(dataclasses.asdict(config), sort_keys=True), subpixel=rewritten)

    attempts: list[str] = []
    best: tuple[str, ParityReport, Any, bytes] | None = None
    for exporter in exporters:
        meta = dataclasses.replace(base, exporter=exporter)
        try:
            model = onnx_export.export_graph(plain, nz, num_classes, exporter=exporter,
                                             opset=opset, fp16=fp16, uint8=uint8)
            model = onnx_export.with_metadata(model, meta.to_props(), _doc(meta))
            model_bytes = model.SerializeToString()
            report = check_parity(model_bytes, G, nz, num_classes, tolerance=tolerance[0],
                                  mean_tolerance=tolerance[1], uint8=uint8)
        except Exception as exc:  # an exporter that cannot handle a model: try the next one
            first_line = (str(exc).strip().splitlines() or [""])[0][:300]
            attempts.append(f"{exporter}: failed: {type(exc).__name__}: {first_line}")
            log(attempts[-1])
            continue
        attempts.append(f"{exporter}: {report.describe()}")
        log(attempts[-1])
        if report.ok and (best is None or report.max_abs_error < best[1].max_abs_error):
            best = (exporter, report, meta, model_bytes)
        # A graph that passes only just (fresh latents could push it over) is kept while the
        # next exporter is tried; the most accurate passing graph is written.
        if report.ok and report.max_abs_error <= report.tolerance / SAFETY_MARGIN:
            break
    if best is None:
        raise GanzooError(
            f"the ONNX export of {source} does not match torch, so nothing was written "
            f"({'; '.join(attempts)}). Check that the generator is deterministic in eval mode "
            "and uses no randomness or data-dependent control flow in forward(); "
            "'ganzoo --debug export' shows more")

    exporter, report, meta, model_bytes = best
    cost = None
    if request is not None:
        meta, model_bytes, cost = _quantized(model_bytes, meta, request, quality)
        log(f"int8: {describe_quality(cost)}")
    st_path, onnx_path = out_dir / SAFETENSORS_NAME, out_dir / ONNX_NAME
    _write_together({st_path: st_bytes, onnx_path: model_bytes})
    return ExportResult(onnx_path, st_path, exporter, report, meta, attempts, cost)


def _quantized(fp32_bytes: bytes, meta: GeneratorMetadata, request: int8.CalibrationRequest,
               scorer: int8.QualityScorer | None) -> tuple[GeneratorMetadata, bytes, dict]:
    try:
        model, props = int8.quantize_int8(onnx.load_from_string(fp32_bytes), meta.nz,
                                          meta.num_classes, request)
    except GanzooError:
        raise
    except Exception as exc:  # onnxruntime's quantizer raises its own errors
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise GanzooError(f"onnxruntime could not quantize the graph ({type(exc).__name__}: "
                          f"{first}); export without --quantize") from exc
    provisional = dataclasses.replace(meta, **props)
    model = onnx_export.with_metadata(model, provisional.to_props(), _doc(provisional))
    cost = int8.quality_cost(fp32_bytes, model.SerializeToString(), meta.nz, meta.num_classes,
                             request, scorer)
    meta = dataclasses.replace(provisional, quality_cost=json.dumps(cost, sort_keys=True))
    model = onnx_export.with_metadata(model, meta.to_props(), _doc(meta))
    return meta, model.SerializeToString(), cost


def describe_quality(cost: dict[str, Any]) -> str:
    """One line for an int8 graph's measured cost."""
    scores = {k: v for k, v in cost.items() if k.startswith(("fd-", "kd-"))}
    measured = ", ".join(f"{k} {v:.4g} vs the float32 graph" for k, v in scores.items())
    measured = measured or f"fd not measured ({cost.get('not_measured', 'no scorer')})"
    return (f"{measured}; images max abs error {cost['max_abs_error']:.3g}, mean "
            f"{cost['mean_abs_error']:.3g} on {cost['n']} latents (seed {cost['latent_seed']})")


def _doc(meta: GeneratorMetadata) -> str:
    inputs = "z [N, nz] float32" + (", labels [N] int64" if meta.conditional else "")
    out = ("[N, C, H, W] float32 in [-1, 1]" if meta.output_layout == "NCHW"
           else "[N, H, W, C] uint8 in [0, 255]")
    return (f"ganzoo generator {meta.arch} ({meta.recipe}, step {meta.step}): inputs {inputs}; "
            f"output images {out}. Latents: {meta.latent_sampler} (see ganzoo.latents).")


def _write_together(files: dict[Path, bytes]) -> None:
    """Write every file under a temporary name (created as :func:`ganzoo.fileio.open_temp`
    does: exclusively, never through a link), fsync, then rename them all into place."""
    temps: dict[Path, Path] = {}
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp, fd = open_temp(path)
            temps[path] = tmp
            try:
                write_fd(fd, [data])
            finally:
                os.close(fd)
        for path, tmp in temps.items():
            os.replace(tmp, path)
    except OSError as exc:
        folders = ", ".join(sorted({str(path.parent) for path in files}))
        raise GanzooError(f"cannot write the exported files in {folders} ({exc.strerror or exc});"
                          " free some space or choose another -o") from exc
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    for folder in {path.parent for path in files}:
        fsync_dir(folder)
