"""Memory per recipe and batch size: peak RSS on CPU, peak allocated memory on a GPU.

Every (recipe, batch) runs in a fresh process, built exactly as ``ganzoo train --arch NAME``
builds it and trained for ``--steps`` steps through the real training core (growing
architectures at their final stage, see ``zoo_table.py``). "ready" is the process's resident
memory once torch is imported, the data loaded and the models and optimizers built; "peak" is
the most it held at any moment (``ru_maxrss``); the difference is what training itself costs
(activations, gradients, Adam state). On CUDA the peak of ``torch.cuda.max_memory_allocated``
is printed as well.

    python benchmarks/memory.py --batches 32,64,128
    python benchmarks/memory.py --recipes dcgan-64 --batches 64,256,1024 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

sys.path.insert(0, str(Path(__file__).parent))
from zoo_table import resolve_or_substitute  # noqa: E402

from ganzoo.data import load_data  # noqa: E402
from ganzoo.devices import resolve_device
from ganzoo.host import get_table  # noqa: E402
from ganzoo.recipes import with_data_shape  # noqa: E402
from ganzoo.train.loop import Trainer  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(name: str, batch: int, device_name: str, steps: int) -> dict[str, float]:
    device = resolve_device(device_name)
    recipe, _ = resolve_or_substitute(name, [f"train.batch={batch}"])
    data = load_data(recipe.train.dataset, recipe.train.resolution, table=get_table())
    recipe = with_data_shape(recipe, data.channels, data.num_classes)
    with TemporaryDirectory() as tmp:
        trainer = Trainer(recipe, data, Path(tmp), device, table=get_table())
        if trainer.schedule is not None:
            trainer.d_steps = 10**12 // recipe.train.batch
            trainer.advance_schedule()
        ready = rss_mib()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(steps):
            trainer.train_step()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        gpu = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda"
               else float("nan"))
    return {"ready": ready, "peak": peak, "gpu_peak": gpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", default="", help="comma-separated names (default: all)")
    ap.add_argument("--batches", default="32,64,128")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--child", nargs=2, metavar=("RECIPE", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.device, args.steps)))
        return

    names = ([n.strip() for n in args.recipes.split(",") if n.strip()]
             or get_table().names("recipe"))
    batches = [int(b) for b in args.batches.split(",")]
    rows = []
    for name in names:
        for batch in batches:
            proc = subprocess.run(
                [sys.executable, __file__, "--child", name, str(batch), "--device",
                 args.device, "--steps", str(args.steps)],
                capture_output=True, text=True)
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
                rows.append((name, batch, f"failed: {tail}"))
                print(f"  {name} b{batch}: failed: {tail}", flush=True)
                continue
            m = json.loads(proc.stdout.strip().splitlines()[-1])
            cells = f"{m['ready']:.0f} | {m['peak']:.0f} | {m['peak'] - m['ready']:.0f}"
            if args.device.startswith("cuda"):
                cells += f" | {m['gpu_peak']:.0f}"
            rows.append((name, batch, cells))
            print(f"  {name} b{batch}: {cells}", flush=True)

    cpu = platform.processor() or platform.machine()
    print(f"\n# torch {torch.__version__}, {args.device}, {cpu}, {os.cpu_count()} CPUs, "
          f"{args.steps} steps per process")
    gpu = " | GPU peak MiB" if args.device.startswith("cuda") else ""
    print(f"| recipe | batch | RSS ready MiB | RSS peak MiB | training MiB{gpu} |")
    print("|---|---:|---:|---:|---:|" + ("---:|" if gpu else ""))
    for name, batch, cells in rows:
        print(f"| {name} | {batch} | {cells} |")


if __name__ == "__main__":
    main()
