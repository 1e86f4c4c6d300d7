"""Does a class-conditional generator draw the class it is asked for?

Each run's EMA generator draws ``-n`` images for labels 0, 1, ..., 9, 0, ... from the shared
latent sampler; the shipped Fashion-MNIST classifier (the ``fmnist`` extractor) labels them;
the table gives the share that match, overall and per class (chance: 10 %). Its first row
is the ceiling: the same classifier on the embedded real images at the training resolution
(32 px: 88.1 %, shirts 56 %), which a generator that drew the data exactly would score.

    python benchmarks/conditional_accuracy.py runs/dcgan-cond-2026... [RUN ...] -n 2000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ganzoo import load_generator
from ganzoo.data import load_data
from ganzoo.host import get_table
from ganzoo.latents import sample_latents
from ganzoo.metrics.features import load_extractor
from ganzoo.metrics.scoring import quantize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("-n", type=int, default=2000)
    args = ap.parse_args()
    extractor = load_extractor("fmnist", table=get_table())
    print("| run | step | class accuracy | per class (0-9) |\n|---|---:|---:|---|")
    real = load_data("fashion-mnist", 32, table=get_table())
    report("real images (ceiling)", "-", extractor.probabilities(quantize(real.images)).argmax(1),
           real.labels.numpy(), real.num_classes)
    for run in args.runs:
        G, info = load_generator(run, device="cpu")
        classes = int(info["generator_config"].num_classes)
        if not classes:
            print(f"| {run.name} | {info['step']} | not conditional | |")
            continue
        labels = torch.arange(args.n) % classes
        z = torch.from_numpy(sample_latents(args.n, int(info["generator_config"].nz), 0))
        with torch.no_grad():
            images = torch.cat([G(zs, ys) for zs, ys in zip(z.split(250), labels.split(250))])
        report(run.name, info["step"], extractor.probabilities(quantize(images)).argmax(1),
               labels.numpy(), classes)


def report(name: str, step, predicted: np.ndarray, labels: np.ndarray, classes: int) -> None:
    hits = predicted == labels
    per_class = " ".join(f"{hits[labels == c].mean():.2f}" for c in range(classes))
    print(f"| {name} | {step} | {np.mean(hits):.3f} | {per_class} |")


if __name__ == "__main__":
    main()
