"""What crash safety and the divergence guard cost.

1. The divergence guard, three ways, on the same training run (rounds alternate so machine
   noise hits all alike): no guard at all; ganzoo's guard (keeps each step's loss scalars,
   checks them at the loop's existing sync points); and a guard that syncs with the device
   after every step. On CPU a sync is free, so only the bookkeeping shows; on a GPU the
   per-step sync stalls the launch queue.
2. Checkpoint I/O for a full training state: the plain way (safetensors + atomic rename)
   against ganzoo's (plus the SHA-256 digest, the read-back verification before pruning, and
   the checked read).

    python benchmarks/reliability_overhead.py --arch dcgan --batch 64 --steps 30 --rounds 3
    python benchmarks/reliability_overhead.py --set generator.ngf=8 --set discriminator.ndf=8 \
        --batch 16 --steps 200 --rounds 3      # a tiny model, where per-step costs show most
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import torch
from safetensors import safe_open
from safetensors.torch import save as st_save

from ganzoo import resolve_recipe
from ganzoo.data import load_data
from ganzoo.fileio import atomic_write
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.store import checkpoint as ckpt
from ganzoo.train import guard as guard_module
from ganzoo.train import loop
from ganzoo.train.loop import Trainer


class NoGuard(guard_module.DivergenceGuard):
    def observe(self, step, d_loss, g_loss):
        return False

    def check(self, ctx, device, stop_requested, lr, last_good):
        return stop_requested


class SyncEveryStep(guard_module.DivergenceGuard):
    def observe(self, step, d_loss, g_loss):
        super().observe(step, d_loss, g_loss)
        return True  # the loop then checks (and syncs) after every step


GUARDS = {"no guard": NoGuard, "ganzoo guard": guard_module.DivergenceGuard,
          "sync every step": SyncEveryStep}


def make_trainer(args, run_dir: Path) -> Trainer:
    recipe = resolve_recipe(args.arch, [f"train.batch={args.batch}", "train.log_every=10",
                                        "train.sample_every=1000000",
                                        "train.checkpoint_every=1000000", *args.set])
    data = load_data("fashion-mnist", recipe.train.resolution, table=get_table())
    recipe = with_data_shape(recipe, data.channels, data.num_classes)
    return Trainer(recipe, data, run_dir, torch.device(args.device), table=get_table())


def bench_guard(args) -> list[tuple[str, float]]:
    times = {name: [] for name in GUARDS}
    with TemporaryDirectory() as tmp:
        trainer = make_trainer(args, Path(tmp))
        trainer.fit(trainer.step + 3, show_progress=False)  # warm-up
        for _ in range(args.rounds):
            for name, cls in GUARDS.items():
                loop.DivergenceGuard = cls
                try:
                    if trainer.device.type == "cuda":
                        torch.cuda.synchronize()
                    start = time.perf_counter()
                    trainer.fit(trainer.step + args.steps, show_progress=False)
                    if trainer.device.type == "cuda":
                        torch.cuda.synchronize()
                    times[name].append(time.perf_counter() - start)
                finally:
                    loop.DivergenceGuard = guard_module.DivergenceGuard
    return [(name, args.steps * args.batch / min(t)) for name, t in times.items()]


def bench_checkpoint(args) -> list[tuple[str, float, float]]:
    rows = []
    with TemporaryDirectory() as tmp:
        trainer = make_trainer(args, Path(tmp))
        trainer.fit(1, show_progress=False)  # optimizer state exists
        tensors, meta = trainer.state()
        size = sum(t.numel() * t.element_size() for t in tensors.values()) / 2**20
        plain, checked = Path(tmp) / "plain.safetensors", Path(tmp) / "checked"
        best = {k: float("inf") for k in ("plain write", "ganzoo write", "plain read",
                                          "ganzoo read")}
        for i in range(args.rounds):
            start = time.perf_counter()
            atomic_write(plain, st_save(tensors, metadata=meta))
            best["plain write"] = min(best["plain write"], time.perf_counter() - start)
            start = time.perf_counter()
            ckpt.save_checkpoint(checked, i + 1, tensors, meta, keep=1)
            best["ganzoo write"] = min(best["ganzoo write"], time.perf_counter() - start)
            start = time.perf_counter()
            with safe_open(str(plain), "pt") as f:
                _ = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            best["plain read"] = min(best["plain read"], time.perf_counter() - start)
            start = time.perf_counter()
            ckpt.read_checkpoint(ckpt.checkpoint_path(checked, i + 1))
            best["ganzoo read"] = min(best["ganzoo read"], time.perf_counter() - start)
        for name, seconds in best.items():
            rows.append((name, size, seconds * 1000))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="dcgan")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--set", action="append", default=[],
                        help="recipe override, e.g. generator.ngf=8 (repeatable)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    where = (torch.cuda.get_device_name() if args.device.startswith("cuda")
             else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} "
                  "threads")
    print(f"{args.arch} {' '.join(args.set)}, batch {args.batch}, {args.steps} steps x "
          f"{args.rounds} rounds on "
          f"{args.device} ({where}), torch {torch.__version__}\n")
    rows = bench_guard(args)
    base = rows[0][1]
    print("| divergence guard | img/s | vs no guard |\n|---|---|---|")
    for name, ips in rows:
        print(f"| {name} | {ips:.0f} | {ips / base:.3f} |")
    print("\n| checkpoint | state MiB | ms (best of rounds) |\n|---|---|---|")
    for name, size, ms in bench_checkpoint(args):
        print(f"| {name} | {size:.1f} | {ms:.1f} |")


if __name__ == "__main__":
    main()
