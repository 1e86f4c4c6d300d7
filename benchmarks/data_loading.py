"""Data: time spent loading vs training, for the embedded set and a folder of 10,000 PNGs.

Datasets are decoded once into a uint8 tensor in memory (on the GPU when training there), so
after the first epoch a batch is one gather + one convert. This prints the one-off decode cost
and, per step, the batch time against the DCGAN training step time (target: loader < 5 %).

    python benchmarks/data_loading.py --images 10000 --steps 10
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganzoo import resolve_recipe
from ganzoo.data import BatchStream, load_data
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.train.loop import Trainer


def write_png_folder(root: Path, count: int, size: int = 64) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.png", compress_level=1)


def measure(spec: str, steps: int, arch: str) -> dict[str, float]:
    recipe = resolve_recipe(arch)
    start = time.perf_counter()
    data = load_data(spec, recipe.train.resolution, table=get_table())
    decode = time.perf_counter() - start
    recipe = with_data_shape(recipe, data.channels, data.num_classes)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(recipe, data, Path(tmp), torch.device("cpu"), table=get_table())
        trainer.train_step()
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        step_time = (time.perf_counter() - start) / steps
    stream = BatchStream(data, recipe.train.batch, seed=0)
    for _ in range(stream.per_epoch):  # walk one full epoch first
        stream.next()
    start = time.perf_counter()
    for _ in range(200):
        stream.next()
    batch_time = (time.perf_counter() - start) / 200
    return {"images": len(data), "decode_s": decode, "step_s": step_time, "batch_s": batch_time}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--arch", default="dcgan")
    args = ap.parse_args()
    rows = {"embedded fashion-mnist": measure("fashion-mnist", args.steps, args.arch)}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_png_folder(Path(tmp), args.images)
        print(f"# wrote {args.images} PNGs in {time.perf_counter() - start:.1f}s")
        rows[f"folder of {args.images} PNGs (64px RGB)"] = measure(tmp, args.steps, args.arch)
    print(f"# {args.arch}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| data | images | first load (decode) s | train step ms | batch ms | loader share |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        share = r["batch_s"] / (r["batch_s"] + r["step_s"])
        print(f"| {name} | {r['images']} | {r['decode_s']:.1f} | {r['step_s'] * 1e3:.0f} | "
              f"{r['batch_s'] * 1e3:.2f} | {share:.2%} |")


if __name__ == "__main__":
    main()
