"""Does a class-conditional generator draw the class it is asked for?

Each run's EMA generator draws ``-n`` images for labels 0, 1, ..., 9, 0, ... from the shared
latent sampler; the shipped Fashion-MNIST classifier (the ``fmnist`` extractor) labels them;
the table gives the share that match, overall and per class (chance: 10 %; the classifier
itself gets 92.15 % of held-out real images right at 28 px, about 86 % resized to 32 px).

    python benchmarks/conditional_accuracy.py runs/dcgan-cond-2026... [RUN ...] -n 2000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ganzoo import load_generator
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
        predicted = extractor.probabilities(quantize(images)).argmax(1)
        hits = predicted == labels.numpy()
        per_class = " ".join(f"{hits[labels.numpy() == c].mean():.2f}" for c in range(classes))
        print(f"| {run.name} | {info['step']} | {np.mean(hits):.3f} | {per_class} |")


if __name__ == "__main__":
    main()
