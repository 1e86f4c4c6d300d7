"""The zoo at a glance: every recipe's parameter counts and training throughput.

Each recipe is built exactly as ``ganzoo train --arch NAME`` builds it (the embedded
Fashion-MNIST, the recipe's widths and batch) and trained for a few steps through the real
training core after one warm-up step. img/s counts real images through D per second
(batch x n_critic per step), the number ``ganzoo train`` reports. Growing architectures are
timed at their final stage. A recipe whose loss or regularizer is not installed is timed with
bce-ns / no regularizer instead, and the notes say so.

    python benchmarks/zoo_table.py --steps 3
    python benchmarks/zoo_table.py --recipes sngan,progan --batch 32 --device cuda
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

from ganzoo import resolve_recipe
from ganzoo.config import ResolvedRecipe
from ganzoo.data import ImageData, load_data
from ganzoo.devices import resolve_device
from ganzoo.errors import UnknownComponentError
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.train.loop import Trainer


def resolve_or_substitute(name: str, overrides: list[str]) -> tuple[ResolvedRecipe, list[str]]:
    """The recipe, with a missing loss / regularizer swapped for one that is installed."""
    notes: list[str] = []
    extra = list(overrides)
    for _ in range(3):
        try:
            return resolve_recipe(name, extra), notes
        except UnknownComponentError as exc:
            message = str(exc)
            if message.startswith("unknown loss") and "loss=bce-ns" not in extra:
                extra.append("loss=bce-ns")
                notes.append(f"{message.split('.')[0][8:]} not installed: timed with bce-ns")
            elif message.startswith("unknown regularizer") and "regularizers=[]" not in extra:
                extra.append("regularizers=[]")
                notes.append(f"{message.split('.')[0][8:]} not installed: timed without")
            else:
                raise
    raise RuntimeError(f"cannot resolve {name}")


def count(module: torch.nn.Module) -> str:
    return f"{sum(p.numel() for p in module.parameters()) / 1e6:.2f}M"


def measure(recipe: ResolvedRecipe, data: ImageData, device: torch.device,
            steps: int) -> tuple[Trainer, float, str]:
    with TemporaryDirectory() as tmp:
        trainer = Trainer(recipe, data, Path(tmp), device, table=get_table())
        note = ""
        if trainer.schedule is not None:
            trainer.d_steps = 10**12 // recipe.train.batch  # past the end of any schedule
            trainer.advance_schedule()
            note = f"timed at its final stage {trainer.progress}"
        trainer.train_step()  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    img_s = steps * recipe.train.batch * recipe.train.n_critic / seconds
    return trainer, img_s, note


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3, help="timed steps per recipe")
    ap.add_argument("--batch", type=int, default=None, help="override every recipe's batch")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--recipes", default="", help="comma-separated names (default: all)")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()

    device = resolve_device(args.device)
    names = ([n.strip() for n in args.recipes.split(",") if n.strip()]
             or get_table().names("recipe"))
    overrides = args.overrides + ([f"train.batch={args.batch}"] if args.batch else [])
    cache: dict[tuple[str, int], ImageData] = {}
    rows = []
    for name in names:
        recipe, substituted = resolve_or_substitute(name, overrides)
        key = (recipe.train.dataset, recipe.train.resolution)
        if key not in cache:
            cache[key] = load_data(*key, table=get_table())
        data = cache[key]
        recipe = with_data_shape(recipe, data.channels, data.num_classes)
        trainer, img_s, note = measure(recipe, data, device, args.steps)
        t = recipe.train
        notes = [f"{recipe.loss.split(':')[-1]}"
                 + "".join(f" + {r.name.split(':')[-1]}" for r in recipe.regularizers)]
        notes += ["conditional"] if t.conditional else []
        notes += [note] if note else []
        notes += substituted
        rows.append((name, count(trainer.G), count(trainer.D), f"{t.resolution}", f"{t.batch}",
                     f"{t.n_critic}", f"{img_s:.1f}", "; ".join(notes)))
        print(f"  {name}: {img_s:.1f} img/s", flush=True)

    print(f"\n# torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, {args.steps} timed steps after one "
          "warm-up")
    print(f"| recipe | G params | D params | px | batch | n_critic | img/s ({device.type}) "
          "| notes |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
