"""Quantized ONNX for CPU apps: is an int8 (or fp16) generator faster than fp32, and how much
does it change the images?

A trained run is exported with ``ganzoo export`` (fp32 and ``--fp16``), then the fp32 graph is
quantized with onnxruntime's static quantization: weights int8 per output channel, activations
calibrated on latents from the shared sampler (``--calibration`` of them, MinMax), in both of
onnxruntime's formats (QDQ, and QOperator with QLinearConv / ConvInteger kernels). Every variant
runs through ``ganzoo.runtime.Generator`` with the same threads and batch, rounds interleaved.
The table gives images/s, the change to the images against fp32 on the same latents (max and
mean abs error in [-1, 1] units; 2/255 is one grey level of a PNG), and the domain score of
``--n`` samples against the run's data (same latents for every variant, so the delta is the
quantization's, not sampling noise).

    python benchmarks/onnx_quantization.py RUN --n 2000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from ganzoo.data import load_data
from ganzoo.export import export_generator
from ganzoo.host import get_table
from ganzoo.latents import sample_latents
from ganzoo.metrics.scoring import score_images
from ganzoo.runtime import Generator, default_threads
from ganzoo.store.run import read_config


class Latents(CalibrationDataReader):
    """Calibration batches of latents (and labels for conditional generators)."""

    def __init__(self, nz: int, num_classes: int, count: int, batch: int = 64) -> None:
        z = sample_latents(count, nz, seed=12345)
        rng = np.random.default_rng(12345)
        self.batches = []
        for start in range(0, count, batch):
            feed = {"z": z[start:start + batch]}
            if num_classes:
                feed["labels"] = rng.integers(0, num_classes, len(feed["z"])).astype(np.int64)
            self.batches.append(feed)
        self.position = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.position == len(self.batches):
            return None
        self.position += 1
        return self.batches[self.position - 1]


def quantize(fp32: Path, out: Path, fmt: QuantFormat, reader: Latents) -> Path:
    """int8 weights per channel, calibrated int8 activations; metadata carried over."""
    prepared = out.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(out), reader, quant_format=fmt, per_channel=True,
                    activation_type=QuantType.QInt8 if fmt == QuantFormat.QDQ
                    else QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    source, model = onnx.load(str(fp32)), onnx.load(str(out))
    onnx.helper.set_model_props(model, {p.key: p.value for p in source.metadata_props})
    onnx.save(model, str(out))
    return out


def int8_nodes(path: Path) -> str:
    """What quantization changed in the file: QDQ pairs and int8 kernels (QLinear*, *Integer);
    a format with no kernel for an op leaves that op in fp32."""
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    kernels = sum(op.startswith("QLinear") or op.endswith("Integer") for op in ops)
    return f"{ops.count('QuantizeLinear')} Q / {kernels} int8 kernels of {len(ops)} nodes"


def images_per_second(gen: Generator, z: np.ndarray, labels: np.ndarray | None) -> float:
    start = time.perf_counter()
    gen.run(z, labels)
    return len(z) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run folder made by 'ganzoo train'")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--n", type=int, default=2000, help="samples scored per variant")
    ap.add_argument("--calibration", type=int, default=512, help="latents for calibration")
    ap.add_argument("--extractor", default="fmnist")
    args = ap.parse_args()

    config = read_config(args.run)
    data = load_data(config["data"]["spec"], config["recipe"]["train"]["resolution"],
                     table=get_table())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fp32 = export_generator(args.run, tmp / "fp32", table=get_table()).onnx_path
        fp16 = export_generator(args.run, tmp / "fp16", fp16=True, table=get_table()).onnx_path
        meta = Generator(fp32).metadata
        variants = {"fp32": fp32, "fp16 (keep-io)": fp16}
        for label, fmt in (("int8 QDQ", QuantFormat.QDQ), ("int8 QOperator",
                                                            QuantFormat.QOperator)):
            reader = Latents(meta.nz, meta.num_classes, args.calibration)
            try:
                variants[label] = quantize(fp32, tmp / f"{label.split()[1]}.onnx", fmt, reader)
            except Exception as exc:  # a format onnxruntime cannot quantize this graph to
                print(f"{label}: quantization failed: {type(exc).__name__}: {exc}")
        gens = {}
        for label, path in variants.items():
            try:
                gens[label] = Generator(path, device="cpu", threads=args.threads,
                                        batch_size=args.batch)
            except Exception as exc:
                print(f"{label}: onnxruntime cannot load it: {type(exc).__name__}: {exc}")

        z = sample_latents(args.batch, meta.nz, seed=1)
        labels = (np.arange(args.batch, dtype=np.int64) % meta.num_classes
                  if meta.num_classes else None)
        speed: dict[str, list[float]] = {label: [] for label in gens}
        for gen in gens.values():
            gen.run(z, labels)  # warm-up
        for _ in range(args.rounds):
            for label, gen in gens.items():
                speed[label].append(images_per_second(gen, z, labels))

        z_n = sample_latents(args.n, meta.nz, seed=0)
        labels_n = (np.arange(args.n, dtype=np.int64) % meta.num_classes
                    if meta.num_classes else None)
        reference = gens["fp32"].run(z_n, labels_n)
        rows = []
        for label, gen in gens.items():
            out = reference if label == "fp32" else gen.run(z_n, labels_n)
            err = np.abs(out - reference)
            result = score_images(torch.from_numpy(out), data, metrics="fd",
                                  extractor=args.extractor, table=get_table())
            fd_name = result.protocol["score_names"]["fd"]
            path = variants[label]
            rows.append((label, int8_nodes(path), os.path.getsize(path) / 2**20,
                         statistics.median(speed[label]), float(err.max()), float(err.mean()),
                         result.scores[fd_name]))

    base_speed, base_fd = rows[0][3], rows[0][6]
    print(f"\n# {meta.arch} ({meta.recipe}, {meta.resolution}px, {meta.channels} ch, step "
          f"{meta.step}); batch {args.batch}, {args.threads} threads, median of {args.rounds} "
          f"rounds; {platform.processor() or platform.machine()}, load "
          f"{os.getloadavg()[0]:.1f}")
    print(f"| variant | graph | MiB | images/s | x fp32 | max abs err | mean abs err | {fd_name} "
          f"(n={args.n}) | delta |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, graph, mib, ips, max_err, mean_err, fd in rows:
        print(f"| {label} | {graph} | {mib:.2f} | {ips:.0f} | {ips / base_speed:.2f} | "
              f"{max_err:.4f} | {mean_err:.5f} | {fd:.2f} | {fd - base_fd:+.2f} |")


if __name__ == "__main__":
    main()
