"""Training throughput: ganzoo's training step against a plain hand-written PyTorch loop.

All train the same DCGAN (BCE, Adam 2e-4, betas (0.5, 0.999)) on the same in-memory data in
the same process; rounds alternate so machine noise hits both alike. Prints a table and the
ratios against the plain fp32 loop: ganzoo in fp32 (target >= 1.0: the framework costs
nothing) and ganzoo's default fast path (bf16 autocast + channels_last on CPUs with native
bf16; target >= 2.0 there).

``--device cuda`` runs the same loops on a GPU (issue 18: fast path >= 2.0x; benchmarks/gpu.sh).
``Trainer`` turns on cudnn.benchmark and TF32 process-wide, so before each of its rounds the
plain loop gets PyTorch's defaults back, as a hand-written script has them. ``--flops`` adds
FLOPs per image (torch's FlopCounterMode over one step of each loop), the TFLOP/s they make and
their share of the card's dense tensor-core peak (bf16 for bf16/fp16 loops, TF32 for fp32 ones:
cuDNN runs fp32 convolutions as TF32 by default); ``--target X`` prints whether the default
fast path reached X times the plain loop.

    python benchmarks/train_throughput.py --arch dcgan-64 --batch 64 --steps 20 --rounds 3
    python benchmarks/train_throughput.py --device cuda --batch 256 --flops --target 2
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
from torch.utils.flop_counter import FlopCounterMode

from ganzoo import resolve_recipe
from ganzoo.data import load_data
from ganzoo.devices import resolve_device
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.train.loop import Trainer

# Dense (no sparsity) tensor-core peaks in TFLOP/s, (bf16, tf32), from NVIDIA's data sheets,
# keyed by a part of torch.cuda.get_device_name(); the first match wins.
PEAK_TFLOPS = {
    "H200 NVL": (835.5, 417.5),
    "H100 NVL": (835.5, 417.5),
    "H100 PCIe": (756.0, 378.0),
    "H200": (989.4, 494.7),
    "H100": (989.4, 494.7),  # SXM ("NVIDIA H100 80GB HBM3")
    "A100": (312.0, 156.0),
}


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
    def __init__(self, images: torch.Tensor, batch: int, nz: int, ngf: int, ndf: int,
                 device: torch.device | str = "cpu") -> None:
        G, D = plain_dcgan(nz, ngf, ndf, images.shape[1], images.shape[-1])
        self.G, self.D, self.device = G.to(device), D.to(device), device
        images = images.to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), 2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), 2e-4, betas=(0.5, 0.999))
        self.images, self.batch, self.nz = images, batch, nz
        self.i = 0

    def step(self) -> None:
        idx = torch.randint(0, len(self.images), (self.batch,), device=self.device)
        real = self.images[idx].float() / 127.5 - 1
        z = torch.randn(self.batch, self.nz, 1, 1, device=self.device)
        fake = self.G(z)
        ones = torch.ones(self.batch, device=self.device)
        zeros = torch.zeros(self.batch, device=self.device)
        self.opt_d.zero_grad()
        d_loss = (F.binary_cross_entropy_with_logits(self.D(real).flatten(), ones)
                  + F.binary_cross_entropy_with_logits(self.D(fake.detach()).flatten(), zeros))
        d_loss.backward()
        self.opt_d.step()
        self.opt_g.zero_grad()
        g_loss = F.binary_cross_entropy_with_logits(self.D(fake).flatten(), ones)
        g_loss.backward()
        self.opt_g.step()


def timed(step, steps: int, sync=None) -> float:
    """Seconds for ``steps`` calls after one warm-up; ``sync`` waits for queued GPU work."""
    sync = sync or (lambda: None)
    step()  # warm-up
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return time.perf_counter() - start


def backend_flags() -> tuple[bool, bool, bool]:
    """The process-wide switches ``Trainer`` sets on CUDA: cudnn.benchmark and TF32."""
    b = torch.backends
    return b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32


def set_backend_flags(flags: tuple[bool, bool, bool]) -> None:
    b = torch.backends
    b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32 = flags


def flops_per_image(step, batch: int) -> float:
    """FLOPs of one call of ``step`` (forward and backward) per image, as torch counts them."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / batch


def peak_tflops(device: torch.device) -> tuple[str, tuple[float, float] | None]:
    """The device's name and its (bf16, tf32) dense peaks, when PEAK_TFLOPS knows it."""
    if device.type != "cuda":
        return platform.processor() or platform.machine(), None
    name = torch.cuda.get_device_name(device)
    return name, next((peak for key, peak in PEAK_TFLOPS.items() if key in name), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="dcgan-64")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    ap.add_argument("--flops", action="store_true",
                    help="add GFLOP/image, TFLOP/s and the share of the card's peak")
    ap.add_argument("--target", type=float, default=None,
                    help="print whether the default fast path reached this ratio to plain fp32")
    args = ap.parse_args()
    device = resolve_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    defaults = backend_flags()

    loops, precisions = {}, {}
    with TemporaryDirectory() as tmp:
        for precision in ("fp32", "auto"):
            recipe = resolve_recipe(args.arch, [f"train.batch={args.batch}",
                                                f"train.precision={precision}", *args.overrides])
            data = load_data(recipe.train.dataset, recipe.train.resolution, table=get_table())
            recipe = with_data_shape(recipe, data.channels, data.num_classes)
            trainer = Trainer(recipe, data, Path(tmp) / precision, device, table=get_table())
            label = f"ganzoo {precision} ({trainer.fast.precision}" + (
                ", channels_last)" if trainer.fast.channels_last else ")")
            loops[label], precisions[label] = trainer.train_step, trainer.fast.precision
        fast_label, tuned = label, backend_flags()
        plain = PlainLoop(data.images, args.batch, recipe.generator.nz,
                          recipe.generator.ngf, recipe.discriminator.ndf, device)
        loops = {"plain PyTorch fp32": plain.step, **loops}
        precisions["plain PyTorch fp32"] = "fp32"
        flags = {name: defaults if name.startswith("plain") else tuned for name in loops}
        flops = {}
        if args.flops:
            for name, step in loops.items():
                set_backend_flags(flags[name])
                flops[name] = flops_per_image(step, args.batch)
        times = dict.fromkeys(loops, 0.0)
        for _ in range(args.rounds):
            for name, step in loops.items():
                set_backend_flags(flags[name])
                times[name] += timed(step, args.steps, sync)
    images = args.batch * args.steps * args.rounds
    base = times["plain PyTorch fp32"]
    where, peak = peak_tflops(device)
    threads = f"{torch.get_num_threads()} threads, " if device.type == "cpu" else ""
    print(f"# {args.arch}, batch {args.batch}, {args.steps} steps x {args.rounds} rounds, "
          f"torch {torch.__version__}, {threads}{where}")
    if args.flops:
        known = f"bf16 {peak[0]:.0f}, tf32 {peak[1]:.0f}" if peak else f"unknown for {where}"
        print(f"# dense tensor-core peak TFLOP/s: {known}")
        print("| loop | img/s | vs plain fp32 | GFLOP/img | TFLOP/s | % of peak |")
        print("|---|---|---|---|---|---|")
    else:
        print("| loop | img/s | vs plain fp32 |")
        print("|---|---|---|")
    for name, seconds in times.items():
        row = f"| {name} | {images / seconds:.1f} | {base / seconds:.2f}x |"
        if args.flops:
            tflops = flops[name] * images / seconds / 1e12
            card = peak and peak[0 if precisions[name] in ("bf16", "fp16") else 1]
            row += (f" {flops[name] / 1e9:.2f} | {tflops:.2f} | "
                    f"{f'{100 * tflops / card:.1f}%' if card else 'n/a'} |")
        print(row)
    if args.target is not None:
        ratio = base / times[fast_label]
        print(f"\ntarget: {fast_label} >= {args.target:g}x plain fp32: "
              f"{'met' if ratio >= args.target else 'missed'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
