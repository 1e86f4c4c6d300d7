"""What each loss and regularizer costs per training step, and what lazy intervals save.

Every row trains the same recipe through ganzoo's Trainer with one objective changed; rows
are timed round-robin so machine noise hits them alike. Prints a markdown table of ms per
train_step (n_critic 1, so one D step and one G step) relative to the bce-ns baseline.

    python benchmarks/losses.py --arch dcgan --batch 64 --steps 10 --rounds 3
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

from ganzoo import resolve_recipe
from ganzoo.data import load_data
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.train.loop import Trainer

ROWS = {
    "bce-ns": [],
    "hinge": ["loss=hinge"],
    "lsgan": ["loss=lsgan"],
    "ragan": ["loss=ragan"],
    "wgan (clip)": ["loss=wgan"],
    "wgan-gp (gp every step)": ["loss=wgan-gp"],
    "r1 every step": ["regularizers=[{name: r1, interval: 1}]"],
    "r1 every 16 (lazy)": ["regularizers=[{name: r1, interval: 16}]"],
    "r2 every step": ["regularizers=[{name: r2, interval: 1}]"],
    "drift every step": ["regularizers=[drift]"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="dcgan")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()

    base = [f"train.batch={args.batch}", "train.n_critic=1",
            f"train.precision={args.precision}", *args.overrides]
    recipe = resolve_recipe(args.arch, base)
    data = load_data(recipe.train.dataset, recipe.train.resolution, table=get_table())
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    seconds = dict.fromkeys(ROWS, 0.0)
    with TemporaryDirectory() as tmp:
        trainers = {}
        for name, extra in ROWS.items():
            r = with_data_shape(resolve_recipe(args.arch, base + extra), data.channels,
                                data.num_classes)
            trainers[name] = Trainer(r, data, Path(tmp) / str(len(trainers)), device,
                                     table=get_table())
            trainers[name].train_step()  # warm-up
        for _ in range(args.rounds):
            for name, trainer in trainers.items():
                sync()
                start = time.perf_counter()
                for _ in range(args.steps):
                    trainer.train_step()
                sync()
                seconds[name] += time.perf_counter() - start
    n = args.steps * args.rounds
    print(f"# {args.arch}, batch {args.batch}, {args.steps} steps x {args.rounds} rounds, "
          f"{device}, precision {args.precision}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print("| objective | ms / step | vs bce-ns |")
    print("|---|---|---|")
    for name, s in seconds.items():
        print(f"| {name} | {1000 * s / n:.1f} | {s / seconds['bce-ns']:.2f}x |")


if __name__ == "__main__":
    main()
