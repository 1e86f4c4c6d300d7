"""Training throughput: ganzoo's training step against a plain hand-written PyTorch loop.

All train the same DCGAN (BCE, Adam 2e-4, betas (0.5, 0.999)) on the same in-memory data in
the same process; rounds alternate so machine noise hits both alike. Prints a table and the
ratios against the plain fp32 loop: ganzoo in fp32 (target >= 1.0: the framework costs
nothing) and ganzoo's default fast path (bf16 autocast + channels_last on CPUs with native
bf16; target >= 2.0 there).

    python benchmarks/train_throughput.py --arch dcgan-64 --batch 64 --steps 20 --rounds 3
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import resolve_recipe
from ganzoo.data import load_data
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.train.loop import Trainer


def plain_dcgan(nz: int, ngf: int, ndf: int, channels: int, resolution: int):
    """The textbook DCGAN written out by hand, as most training scripts do."""
    n = resolution.bit_length() - 3
    g_layers, width = [], ngf * 2 ** (n - 1)
    g_layers += [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width),
                 nn.ReLU(True)]
    for _ in range(n - 1):
        g_layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                     nn.BatchNorm2d(width // 2), nn.ReLU(True)]
        width //= 2
    g_layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
    d_layers, width = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)], ndf
    for _ in range(n - 1):
        d_layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                     nn.LeakyReLU(0.2, True)]
        width *= 2
    d_layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
    return nn.Sequential(*g_layers), nn.Sequential(*d_layers)


class PlainLoop:
    def __init__(self, images: torch.Tensor, batch: int, nz: int, ngf: int, ndf: int) -> None:
        self.G, self.D = plain_dcgan(nz, ngf, ndf, images.shape[1], images.shape[-1])
        self.opt_g = torch.optim.Adam(self.G.parameters(), 2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), 2e-4, betas=(0.5, 0.999))
        self.images, self.batch, self.nz = images, batch, nz
        self.i = 0

    def step(self) -> None:
        idx = torch.randint(0, len(self.images), (self.batch,))
        real = self.images[idx].float() / 127.5 - 1
        z = torch.randn(self.batch, self.nz, 1, 1)
        fake = self.G(z)
        ones, zeros = torch.ones(self.batch), torch.zeros(self.batch)
        self.opt_d.zero_grad()
        d_loss = (F.binary_cross_entropy_with_logits(self.D(real).flatten(), ones)
                  + F.binary_cross_entropy_with_logits(self.D(fake.detach()).flatten(), zeros))
        d_loss.backward()
        self.opt_d.step()
        self.opt_g.zero_grad()
        g_loss = F.binary_cross_entropy_with_logits(self.D(fake).flatten(), ones)
        g_loss.backward()
        self.opt_g.step()


def timed(step, steps: int) -> float:
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="dcgan-64")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()

    loops = {}
    with TemporaryDirectory() as tmp:
        for precision in ("fp32", "auto"):
            recipe = resolve_recipe(args.arch, [f"train.batch={args.batch}",
                                                f"train.precision={precision}", *args.overrides])
            data = load_data(recipe.train.dataset, recipe.train.resolution, table=get_table())
            recipe = with_data_shape(recipe, data.channels, data.num_classes)
            trainer = Trainer(recipe, data, Path(tmp) / precision, torch.device("cpu"),
                              table=get_table())
            label = f"ganzoo {precision} ({trainer.fast.precision}" + (
                ", channels_last)" if trainer.fast.channels_last else ")")
            loops[label] = trainer.train_step
        plain = PlainLoop(data.images, args.batch, recipe.generator.nz,
                          recipe.generator.ngf, recipe.discriminator.ndf)
        loops = {"plain PyTorch fp32": plain.step, **loops}
        times = dict.fromkeys(loops, 0.0)
        for _ in range(args.rounds):
            for name, step in loops.items():
                times[name] += timed(step, args.steps)
    images = args.batch * args.steps * args.rounds
    base = times["plain PyTorch fp32"]
    print(f"# {args.arch}, batch {args.batch}, {args.steps} steps x {args.rounds} rounds, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    print("| loop | img/s | vs plain fp32 |")
    print("|---|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {images / seconds:.1f} | {base / seconds:.2f}x |")


if __name__ == "__main__":
    main()
