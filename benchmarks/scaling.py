"""Scaling: one process vs K processes (torchrun, gloo on CPU / NCCL on GPU), plus peak memory.

Runs `ganzoo train` for the same number of steps with the same global batch, once in one
process and once split over K processes, and reports wall time, img/s, peak RSS (per process),
and the largest weight difference between the two final checkpoints (they should agree up to
float noise).

    python benchmarks/scaling.py --procs 2 --steps 20 --batch 64
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from safetensors.torch import load_file


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return time.perf_counter() - start, peak / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64, help="global batch")
    ap.add_argument("--arch", default="dcgan")
    ap.add_argument("--precision", default="fp32")
    args = ap.parse_args()
    common = ["train", "--arch", args.arch, "--steps", str(args.steps), "-q",
              "--precision", args.precision, "--set", f"train.checkpoint_every={args.steps}",
              "--set", f"train.sample_every={args.steps}"]
    threads = max(1, (os.cpu_count() or 1) // args.procs)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        one, many = Path(tmp) / "one", Path(tmp) / "many"
        t1, m1 = run([sys.executable, "-m", "ganzoo", *common, "--batch", str(args.batch),
                      "--out", str(one)], dict(os.environ))
        rows.append(("1 process", t1, m1))
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={args.procs}", "-m", "ganzoo", *common,
               "--batch", str(args.batch // args.procs), "--out", str(many)]
        tk, mk = run(cmd, {**os.environ, "OMP_NUM_THREADS": str(threads)})
        rows.append((f"{args.procs} processes (gloo, {threads} threads each)", tk, mk))
        name = f"step-{args.steps:07d}.safetensors"
        a, b = load_file(one / "checkpoints" / name), load_file(many / "checkpoints" / name)
        diff = max((a[k].float() - b[k].float()).abs().max().item()
                   for k in a if k.startswith(("G.", "D.")) and a[k].is_floating_point())
        config = json.loads((many / "config.json").read_text())
    images = args.steps * args.batch
    print(f"# {args.arch}, global batch {args.batch}, {args.steps} steps, "
          f"precision {args.precision}, device {config['device']}")
    print("| run | wall s | img/s | peak RSS MiB (one process) |")
    print("|---|---|---|---|")
    for label, seconds, rss in rows:
        print(f"| {label} | {seconds:.1f} | {images / seconds:.1f} | {rss:.0f} |")
    print(f"max |weight difference| after {args.steps} steps: {diff:.2e}")


if __name__ == "__main__":
    main()
