"""Differentiable augmentation of everything D sees (DiffAugment, Zhao et al. 2020,
https://arxiv.org/abs/2006.10738).

With 10k training images a discriminator soon memorises the real set and its feedback to G
turns to noise. Augmenting *both* reals and fakes, in D's steps and in G's step, with
operations that gradients flow through, lets D see a larger distribution without G learning to
produce augmented images. ``train.augment`` names the operations, applied in this order:

- ``color``: per image, brightness + U(-0.5, 0.5), saturation x U(0, 2) around the pixel's
  channel mean, contrast x U(0.5, 1.5) around the image mean;
- ``translation``: per image, an integer shift of up to 1/8 of the size in each direction,
  zeros (mid-grey) shifted in;
- ``cutout``: per image, a square of half the size set to zero at a random place.

Gradient penalties (R1, GP) see the images un-augmented, as in the paper's code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def color(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    # index into a copy padded with one ring of zeros: a shift past the edge reads the ring
    ys = (torch.arange(h, device=x.device)[None, :, None] + dy + 1).clamp(0, h + 1)
    xs = (torch.arange(w, device=x.device)[None, None, :] + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    rows = torch.arange(n, device=x.device)[:, None, None]
    return padded[rows, ys, xs].permute(0, 3, 1, 2)  # channels_last in memory


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device) - cw // 2
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


OPERATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "color": color, "translation": translation, "cutout": cutout}


def parse(spec: str) -> list[str]:
    """``"translation,cutout"`` -> the names, in the order they run; unknown names raise
    ValueError naming the known ones."""
    names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in OPERATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(OPERATIONS)} (comma-separated), or '' for none")
    return [name for name in OPERATIONS if name in names]


def augmenting(D: Callable[..., torch.Tensor], spec: str) -> Callable[..., torch.Tensor]:
    """``D`` with the operations of ``spec`` applied to its images first (``D`` itself when
    ``spec`` is empty)."""
    ops = [OPERATIONS[name] for name in parse(spec)]
    if not ops:
        return D

    def forward(images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        for op in ops:
            images = op(images)
        return D(images, labels)

    return forward
