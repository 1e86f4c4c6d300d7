"""The plain baseline: the paper's DCGAN (Radford et al. 2015) as an afternoon's hand-written
loop, with no ganzoo import. BCE (non-saturating G), Adam 2e-4 / (0.5, 0.999), batch 64,
N(0, 0.02) init, no EMA, fp32; the embedded 10k Fashion-MNIST images at 32x32.

    python benchmarks/plain_dcgan.py --steps 2000 --out /tmp/plain      # or --seconds 600

Writes OUT/samples.npz: ``images``, N uint8 [N, 1, 32, 32] samples of the final G for
benchmarks/quality.py to score with the same protocol as every ganzoo recipe.
"""

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DATA = Path(__file__).resolve().parents[1] / "ganzoo/data/fashion_mnist/t10k-images-idx3-ubyte.gz"


def load_images() -> torch.Tensor:
    """The IDX file's 28x28 images, resized (antialiased bilinear) to 32x32, in [-1, 1]."""
    raw = np.frombuffer(gzip.decompress(DATA.read_bytes()), np.uint8, offset=16)
    x = torch.from_numpy(raw.reshape(-1, 1, 28, 28).copy()).float()
    x = F.interpolate(x, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255) / 127.5 - 1.0


def generator(nz: int = 100, ngf: int = 64) -> nn.Module:
    def up(c_in, c_out):
        return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                nn.ReLU(True)]
    return nn.Sequential(nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
                         nn.BatchNorm2d(ngf * 4), nn.ReLU(True), *up(ngf * 4, ngf * 2),
                         *up(ngf * 2, ngf), nn.ConvTranspose2d(ngf, 1, 4, 2, 1), nn.Tanh())


def discriminator(ndf: int = 64) -> nn.Module:
    def down(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, True)]
    return nn.Sequential(nn.Conv2d(1, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True),
                         *down(ndf, ndf * 2), *down(ndf * 2, ndf * 4),
                         nn.Conv2d(ndf * 4, 1, 4, 1, 0), nn.Flatten())


def init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=0, help="train this long instead")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=10000, help="samples to write")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    data = load_images()
    G, D = generator(), discriminator()
    init(G)
    init(D)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    start, step, order, pos = time.perf_counter(), 0, torch.randperm(len(data)), 0
    while (step < args.steps if not args.seconds else time.perf_counter() - start < args.seconds):
        if pos + 64 > len(order):  # a new epoch, reshuffled
            order, pos = torch.randperm(len(data)), 0
        real, z = data[order[pos:pos + 64]], torch.randn(64, 100, 1, 1)
        pos += 64
        fake = G(z)
        d_loss = (F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean())
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-D(fake)).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        step += 1
    wall = time.perf_counter() - start
    G.eval()
    with torch.no_grad():
        z = torch.randn(args.n, 100, 1, 1, generator=torch.Generator().manual_seed(args.seed))
        images = torch.cat([G(part) for part in z.split(500)])
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "samples.npz", images=pixels)
    print(f"plain dcgan: {step} steps in {wall:.1f} s -> {args.out / 'samples.npz'}")


if __name__ == "__main__":
    main()
