"""Inference throughput on CPU: torch eager and channels_last against ONNX Runtime fp32 / fp16,
the sub-pixel fp32 export and the int8 export.

One DCGAN-64 generator (nz 100, ngf 64, 3 channels, BatchNorm statistics measured on real
batches) is exported with ganzoo's own path (``export_generator``: dynamo exporter, parity
check) and run by ``ganzoo.runtime.Generator`` with its default session settings, at one batch
size and the same thread count for every engine. Rounds alternate between engines so machine
noise hits all alike; the table shows the median images/s and the ratio to torch eager
(targets, issue 18: int8 >= 2x onnxruntime fp32 and >= ganzoo's bf16 sampling; sub-pixel fp32
no slower than the ConvTranspose export). ``--calibration`` sets the int8 export's latents.
The fp32 and int8 rows "from the cached graph" run the optimised graph ``ganzoo.runtime``
saves with ``cache=True`` (``GANZOO_ORT_CACHE=1``). The load table times each onnxruntime
engine's ``Generator`` load without that cache, writing it and from it, and the first
one-image run after a load (``--load-rounds``, median). The last table varies ONNX Runtime's
settings (graph optimization level, execution mode, thread spinning) to show what each is
worth; the load average is printed because other work on the machine changes the picture
(spinning threads suffer most from it).

``--model`` benchmarks a trained generator instead (a run folder, a generator.safetensors or a
pretrained tag such as r3gan.fmnist; unconditional ones), so the int8 rows show what a real
recipe's graph gains, not only DCGAN-64's.

    python benchmarks/inference.py --batch 64 --rounds 7 --threads 2
    python benchmarks/inference.py --model r3gan.fmnist --no-settings --load-rounds 0
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from ganzoo import create_generator
from ganzoo.devices import choose_fast_path
from ganzoo.export import export_generator
from ganzoo.host import get_table
from ganzoo.latents import sample_latents
from ganzoo.runtime import Generator, default_threads
from ganzoo.store.generator_file import generator_bytes
from ganzoo.store.optimized_graph import cache_path


def dcgan64(nz: int, ngf: int, channels: int) -> tuple[torch.nn.Module, object]:
    """A DCGAN-64 generator in eval mode whose BatchNorm statistics come from real batches."""
    config = {"nz": nz, "ngf": ngf, "resolution": 64, "channels": channels}
    G = create_generator("dcgan", config)
    with torch.no_grad():
        G.train()
        for _ in range(2):
            G(torch.randn(64, nz))
    return G.eval().requires_grad_(False), G.config


def trained(spec: str) -> tuple[torch.nn.Module, Path, str]:
    """(generator, the file or folder to export, a title) for a run, file or pretrained tag."""
    from ganzoo.loading import load_generator
    from ganzoo.weights import resolve_generator

    path = resolve_generator(spec, table=get_table()).path
    G, info = load_generator(path, table=get_table())
    if info["generator_config"].num_classes:
        raise SystemExit(f"{spec} is class-conditional; --model takes unconditional generators")
    return G, path, f"{spec} ({info['arch']} generator, step {info['step']})"


def session(path: Path, threads: int, level: str = "all", parallel: bool = False,
            spinning: bool = True) -> Callable[[np.ndarray], np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    options.execution_mode = (ort.ExecutionMode.ORT_PARALLEL if parallel
                              else ort.ExecutionMode.ORT_SEQUENTIAL)
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda z: sess.run(["images"], {"z": z})[0]


def measure(engines: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each engine, rounds interleaved, after one warm-up call."""
    times: dict[str, list[float]] = {name: [] for name in engines}
    for fn in engines.values():
        fn()
    for _ in range(rounds):
        for name, fn in engines.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def table(title: str, seconds: dict[str, float], batch: int, base: float) -> None:
    print(f"\n{title}\n")
    print("| engine | images/s | x torch eager |")
    print("| --- | ---: | ---: |")
    for name, s in seconds.items():
        print(f"| {name} | {batch / s:.1f} | {base / s:.2f} |")


LOAD_COLUMNS = ("load, no cache", "load, writing the cache", "load from the cache",
                "of which hashing the model", "first image after a plain load",
                "first image after a cached load")


def _ms(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    value = fn()
    return value, (time.perf_counter() - start) * 1000


def load_times(models: dict[str, Path], threads: int, rounds: int) -> dict[str, dict[str, float]]:
    """Median milliseconds of each engine's ``ganzoo.runtime.Generator`` load: without the
    optimised-graph cache, writing it, and from it (the model file itself is in the page cache
    each time), and of its first one-image run after each; one warm-up round first."""
    times = {name: {column: [] for column in LOAD_COLUMNS} for name in models}

    def load(path: Path, cache: bool) -> Generator:
        return Generator(path, device="cpu", threads=threads, cache=cache)

    for round_ in range(rounds + 1):
        for name, path in models.items():
            for old in path.parent.glob(f"{path.stem}.optimized-*.onnx"):
                old.unlink()
            plain, plain_ms = _ms(lambda p=path: load(p, False))
            z = sample_latents(1, plain.metadata.nz, 0)
            _, plain_first = _ms(lambda g=plain, z=z: g.run(z))
            writer, write_ms = _ms(lambda p=path: load(p, True))
            cached, cached_ms = _ms(lambda p=path: load(p, True))
            assert (writer.cache_state, cached.cache_state) == ("written", "loaded"), (
                writer.cache_state, cached.cache_state)
            _, cached_first = _ms(lambda g=cached, z=z: g.run(z))
            _, hash_ms = _ms(lambda p=path: cache_path(p, ort.__version__))
            if round_:
                for column, ms in zip(LOAD_COLUMNS, (plain_ms, write_ms, cached_ms, hash_ms,
                                                     plain_first, cached_first)):
                    times[name][column].append(ms)
                times[name]["cache MB"] = [cached.cache_path.stat().st_size / 1e6]
            del plain, writer, cached
    return {name: {column: statistics.median(ms) for column, ms in row.items()}
            for name, row in times.items()}


def load_table(models: dict[str, Path], times: dict[str, dict[str, float]]) -> None:
    print("\nModel load and first image (ms; ganzoo.runtime.Generator, "
          "GANZOO_ORT_CACHE / cache=)\n")
    print(f"| engine | model MB | cache MB | {' | '.join(LOAD_COLUMNS)} | cache saves |")
    print("| --- | ---: | ---: |" + " ---: |" * (len(LOAD_COLUMNS) + 1))
    for name, row in times.items():
        saved = row["load, no cache"] - row["load from the cache"]
        cells = " | ".join(f"{row[column]:.1f}" for column in LOAD_COLUMNS)
        print(f"| {name} | {models[name].stat().st_size / 1e6:.1f} | {row['cache MB']:.1f} | "
              f"{cells} | {saved:.1f} ({saved / row['load, no cache']:.0%}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--nz", type=int, default=100)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--calibration", type=int, default=256,
                        help="latents the int8 export calibrates on")
    parser.add_argument("--no-settings", action="store_true",
                        help="skip the ONNX Runtime settings table")
    parser.add_argument("--load-rounds", type=int, default=5,
                        help="rounds of the model load and first image table (0 skips it)")
    parser.add_argument("--model", default=None,
                        help="a trained unconditional generator to measure instead of DCGAN-64 "
                        "(run folder, generator.safetensors or pretrained tag)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            G, st, title = trained(args.model)
            args.nz = G.config.nz
        else:
            G, config = dcgan64(args.nz, args.ngf, args.channels)
            st = Path(tmp) / "generator.safetensors"
            st.write_bytes(generator_bytes(G, "ganzoo:dcgan", config, 0, "dcgan-64"))
            title = f"DCGAN-64 generator (nz {args.nz}, ngf {args.ngf}, {args.channels} channels)"
        G_cl = copy.deepcopy(G).to(memory_format=torch.channels_last)
        z_np = sample_latents(args.batch, args.nz, 0)
        z = torch.from_numpy(z_np)
        fp32 = export_generator(st, Path(tmp) / "fp32", table=get_table())
        fp16 = export_generator(st, Path(tmp) / "fp16", fp16=True, table=get_table())
        sub = export_generator(st, Path(tmp) / "subpixel", subpixel=True, table=get_table())
        q8 = export_generator(st, Path(tmp) / "int8", quantize="int8", table=get_table(),
                              calibration=args.calibration, quality_count=200)
        ort_sub = Generator(sub.onnx_path, device="cpu", threads=args.threads,
                            batch_size=args.batch)
        ort8 = Generator(q8.onnx_path, device="cpu", threads=args.threads,
                         batch_size=args.batch)
        ort32 = Generator(fp32.onnx_path, device="cpu", threads=args.threads,
                          batch_size=args.batch)
        ort16 = Generator(fp16.onnx_path, device="cpu", threads=args.threads,
                          batch_size=args.batch)

        def from_cache(path: Path) -> Generator:
            """A session on the cached optimised graph (the first load writes it)."""
            Generator(path, device="cpu", threads=args.threads, cache=True)
            gen = Generator(path, device="cpu", threads=args.threads, batch_size=args.batch,
                            cache=True)
            assert gen.cache_state == "loaded", gen.cache_state
            return gen

        ort32_cached, ort8_cached = from_cache(fp32.onnx_path), from_cache(q8.onnx_path)

        def eager():
            with torch.inference_mode():
                return G(z)

        def channels_last():
            with torch.inference_mode():
                return G_cl(z)

        fast = choose_fast_path("auto", torch.device("cpu"), sampling=True)

        def ganzoo_default():
            with torch.inference_mode(), fast.autocast(torch.device("cpu")):
                return (G_cl if fast.channels_last else G)(z)

        load = os.getloadavg()
        main_times = measure({
            "torch eager (fp32, NCHW)": eager,
            "torch channels_last (fp32)": channels_last,
            f"ganzoo sample default ({fast.precision}"
            f"{', channels_last' if fast.channels_last else ''})": ganzoo_default,
            "onnxruntime fp32 (ganzoo.runtime)": lambda: ort32.run(z_np),
            "onnxruntime fp16 (ganzoo.runtime)": lambda: ort16.run(z_np),
            "onnxruntime fp32 sub-pixel (--subpixel)": lambda: ort_sub.run(z_np),
            "onnxruntime int8 (--quantize int8)": lambda: ort8.run(z_np),
            "onnxruntime fp32, from the cached graph": lambda: ort32_cached.run(z_np),
            "onnxruntime int8, from the cached graph": lambda: ort8_cached.run(z_np),
        }, args.rounds)
        print(f"{title}, batch {args.batch}, {args.threads} threads, median of {args.rounds} "
              f"rounds; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load "
              f"average {load[0]:.1f} at start; torch {torch.__version__}, onnxruntime "
              f"{ort.__version__}; exporter {fp32.exporter}, fp16 max abs error "
              f"{fp16.parity.max_abs_error:.3g}, sub-pixel max abs error "
              f"{sub.parity.max_abs_error:.3g}; int8 mean abs error vs fp32 "
              f"{q8.quality['mean_abs_error']:.3g} ({args.calibration} calibration latents)")
        base = main_times["torch eager (fp32, NCHW)"]
        table("Engines", main_times, args.batch, base)
        if args.load_rounds > 0:
            models = {"onnxruntime fp32": fp32.onnx_path, "onnxruntime fp16": fp16.onnx_path,
                      "onnxruntime fp32 sub-pixel": sub.onnx_path,
                      "onnxruntime int8": q8.onnx_path}
            load_table(models, load_times(models, args.threads, args.load_rounds))

        if not args.no_settings:
            path, t = fp32.onnx_path, args.threads
            settings = {
                "torch eager (fp32, NCHW)": eager,
                "ort fp32: ganzoo.runtime (all, sequential, no spinning)":
                    session(path, t, spinning=False),
                "ort fp32: onnxruntime defaults (all, sequential, spinning)": session(path, t),
                "ort fp32: optimization extended": session(path, t, "extended", spinning=False),
                "ort fp32: optimization basic": session(path, t, "basic", spinning=False),
                "ort fp32: optimization disabled": session(path, t, "disabled", spinning=False),
                "ort fp32: parallel execution mode": session(path, t, parallel=True,
                                                            spinning=False),
            }
            timed = {name: (fn if name.startswith("torch") else (lambda f=fn: f(z_np)))
                     for name, fn in settings.items()}
            settings_times = measure(timed, args.rounds)
            table("ONNX Runtime settings", settings_times, args.batch,
                  settings_times["torch eager (fp32, NCHW)"])
        print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
