"""Which torch path samples fastest on this CPU? fp32 against the bf16 variants.

One DCGAN-64 generator (BatchNorm statistics from two training-mode batches) in eval mode,
batch 64, the same threads for every path, median of ``--rounds`` after two warm-up calls:
fp32 eager; bf16 autocast + channels_last (what ``ganzoo sample`` does on a bf16 CPU); bf16
weights without autocast; TorchScript freeze + optimize_for_inference in bf16; torch.compile
(inductor) with bf16 weights.

    python benchmarks/sampling_paths.py --threads 2
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time
import warnings
from collections.abc import Callable

import torch

from ganzoo import create_generator


def images_per_second(fn: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                      rounds: int) -> float:
    with torch.no_grad():
        fn(z)
        fn(z)
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            fn(z)
            times.append(time.perf_counter() - start)
    return len(z) / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    G = create_generator("dcgan", {"nz": 100, "ngf": 64, "resolution": 64, "channels": 3})
    with torch.no_grad():
        G.train()
        G(torch.randn(64, 100))
        G.eval()
    z = torch.randn(args.batch, 100)

    cl = copy.deepcopy(G).to(memory_format=torch.channels_last)

    def autocast_cl(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", torch.bfloat16):
            return cl(x).float()

    bf16 = copy.deepcopy(G).to(torch.bfloat16).to(memory_format=torch.channels_last)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated; measured
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(
            bf16, z.bfloat16())))
    compiled = torch.compile(bf16)
    paths: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "fp32 eager": G,
        "bf16 autocast + channels_last (ganzoo sample)": autocast_cl,
        "bf16 weights, channels_last, no autocast": lambda x: bf16(x.bfloat16()).float(),
        "TorchScript freeze + optimize_for_inference, bf16": lambda x: frozen(
            x.bfloat16()).float(),
        "torch.compile (inductor), bf16 weights": lambda x: compiled(x.bfloat16()).float(),
    }
    results = {name: images_per_second(fn, z, args.rounds) for name, fn in paths.items()}
    base = results["fp32 eager"]
    print(f"\n# DCGAN-64 G, batch {args.batch}, {args.threads} threads, median of {args.rounds}; "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}")
    print("| path | images/s | x fp32 eager |\n|---|---:|---:|")
    for name, value in results.items():
        print(f"| {name} | {value:.0f} | {value / base:.2f} |")


if __name__ == "__main__":
    main()
