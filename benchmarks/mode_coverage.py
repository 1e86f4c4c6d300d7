"""Mode coverage on stacked Fashion-MNIST (the stacked-MNIST protocol of VEEGAN, PacGAN and
R3GAN, on the embedded Fashion-MNIST): every training image is three random embedded images
stacked as the R, G and B channels, so the data has 10^3 = 1,000 modes (class triples).

After training, each channel of ``--n`` samples (26,000 as in the papers) is classified by the
shipped fmnist classifier; the table gives the modes covered (of 1,000; a mode counts when at
least one sample lands in it) and the KL divergence of the mode histogram to uniform.

    python benchmarks/mode_coverage.py --steps 2000 --recipes dcgan,sngan,r3gan
    python benchmarks/mode_coverage.py --steps 20 --n 2000 --recipes dcgan        # smoke run
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import torch


def stacked_dataset(path: Path, count: int, seed: int, table) -> None:
    """``count`` RGB images, each three random embedded images as its channels."""
    from ganzoo.data import load_data

    gray = load_data("fashion-mnist", 32, table=table).images[:, 0].numpy()
    pick = np.random.default_rng(seed).integers(0, len(gray), size=(count, 3))
    np.savez(path, images=gray[pick])  # [count, 3, 32, 32]


def coverage(images: torch.Tensor, extractor) -> tuple[int, float]:
    """Modes covered (of 1,000) and the KL divergence of the mode histogram to uniform."""
    found = np.bincount(modes(images, extractor), minlength=1000) / len(images)
    present = found[found > 0]
    return int((found > 0).sum()), float((present * np.log(present * 1000)).sum())


def modes(fakes: torch.Tensor, extractor) -> np.ndarray:
    """The class triple of each RGB sample, as one number 0..999."""
    per_channel = [extractor.probabilities(fakes[:, c:c + 1].contiguous()).argmax(1)
                   for c in range(3)]
    return per_channel[0] * 100 + per_channel[1] * 10 + per_channel[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--n", type=int, default=26000, help="samples classified per recipe")
    ap.add_argument("--images", type=int, default=30000, help="stacked training images")
    ap.add_argument("--recipes", default="dcgan,sngan,r3gan")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from ganzoo.host import get_table
    from ganzoo.loading import load_generator
    from ganzoo.metrics.features import load_extractor
    from ganzoo.metrics.scoring import quantize
    from ganzoo.sampling import generate_images

    table = get_table()
    extractor = load_extractor("fmnist", table=table)
    rows = []
    with TemporaryDirectory() as tmp:
        data = Path(tmp) / "stacked.npz"
        stacked_dataset(data, args.images, args.seed, table)
        reals = torch.from_numpy(np.load(data)["images"][:args.n])
        rows.append(("training images", *coverage(reals, extractor), 0.0))
        for name in [r.strip() for r in args.recipes.split(",") if r.strip()]:
            run = Path(tmp) / name
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "ganzoo", "train", "--arch", name, "--data",
                            str(data), "--steps", str(args.steps), "--seed", str(args.seed),
                            "--out", str(run), "--quiet"], check=True)
            wall = time.perf_counter() - start
            G, info = load_generator(run, table=table)
            cfg = info["generator_config"]
            fakes = generate_images(G, args.n, nz=cfg.nz, seed=args.seed, postprocess=quantize)
            rows.append((name, *coverage(fakes, extractor), wall))
            print(f"{name}: {rows[-1][1]} modes, KL {rows[-1][2]:.3f}", file=sys.stderr,
                  flush=True)
    print(f"Stacked Fashion-MNIST, {args.images} training images, {args.steps} steps, "
          f"{args.n} samples per recipe, seed {args.seed}.\n")
    print("| recipe | modes covered (of 1000) | KL to uniform | train wall (s) |")
    print("|---|---:|---:|---:|")
    for name, covered, kl, wall in rows:
        print(f"| {name} | {covered} | {kl:.3f} | {f'{wall:.0f}' if wall else '-'} |")


if __name__ == "__main__":
    main()
