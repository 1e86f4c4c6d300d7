"""Progressive growing of GANs (Karras et al. 2018, PGGAN).

Both networks hold every resolution from 4x4 up to ``train.resolution`` and always speak full
resolution: G upsamples (nearest) whatever stage it is at to the output size, and D average-pools
its input down to the current stage, so real images are resized per stage inside D and the data
pipeline never changes. Which stage is live, and how far the newest one has faded in, comes from
the generator's ``schedule(images_seen)``, a pure function of the number of real images shown,
which the training core hands to ``set_progress(state)`` of every model that has one. The state
is also saved with the weights (``get_extra_state``), so a checkpoint restores it exactly.

A model fresh from its config is at the final stage with alpha 1: ``G(z)`` is then a plain
forward through every block, with no fade branch, which is what export traces.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.config import DiscriminatorConfig, GeneratorConfig
from ganzoo.errors import GanzooError
from ganzoo.hooks import hookimpl
from ganzoo.hooktypes import RegisterArchitecture
from ganzoo.nn import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm

PAPER = "https://arxiv.org/abs/1710.10196"
RESOLUTIONS = (8, 16, 32, 64, 128, 256, 512, 1024)


def progress_at(images: int, start: int, final: int, stage_images: int,
                fade_images: int) -> tuple[int, float]:
    """(resolution, alpha) after ``images`` real images: the ``start`` resolution trains for
    ``stage_images``; each doubling then fades in linearly over ``fade_images`` and trains at
    full strength for ``stage_images``; the final resolution stays."""
    resolution, remaining = start, images - stage_images
    while resolution < final and remaining >= 0:
        resolution *= 2
        if remaining < fade_images:
            return resolution, remaining / fade_images
        remaining -= fade_images + stage_images
    return resolution, 1.0


def _width(base: int, resolution: int) -> int:
    """``base`` feature maps up to 32x32, halved at each doubling above (the paper's 512 base
    gives 512, ..., 512, 256, 128, 64, 32, 16 from 4x4 to 1024x1024)."""
    return max(1, base * 32 // max(resolution, 32))


def _ladder(resolution: int, who: str) -> list[int]:
    if resolution not in RESOLUTIONS:
        raise GanzooError(
            f"{who} supports resolutions {', '.join(map(str, RESOLUTIONS))}, got {resolution}; "
            "set train.resolution to one of them"
        )
    return [2**i for i in range(2, int(math.log2(resolution)) + 1)]


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


def _up(x: torch.Tensor, factor: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=float(factor), mode="nearest")


class _Growing(nn.Module):
    """Stage state shared by G and D: the live resolution and the newest stage's alpha."""

    ladder: list[int]

    def _init_progress(self, ladder: list[int]) -> None:
        self.ladder = ladder
        self.stage_resolution, self.alpha = ladder[-1], 1.0

    def set_progress(self, state: Mapping[str, Any]) -> None:
        """Adopt a growth state ``{"resolution": R, "alpha": A}`` (from ``schedule``)."""
        resolution, alpha = int(state["resolution"]), float(state["alpha"])
        if resolution not in self.ladder or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"bad growth state {dict(state)}: resolution must be one of "
                             f"{self.ladder} and alpha in [0, 1]")
        self.stage_resolution, self.alpha = resolution, alpha

    def progress(self) -> dict[str, Any]:
        return {"resolution": self.stage_resolution, "alpha": self.alpha}

    def get_extra_state(self) -> torch.Tensor:
        return torch.tensor([float(self.stage_resolution), self.alpha], dtype=torch.float64)

    def set_extra_state(self, state: Any) -> None:
        values = torch.as_tensor(state, dtype=torch.float64).tolist()
        self.set_progress({"resolution": int(round(values[0])), "alpha": values[1]})

    @property
    def _stage(self) -> int:
        return self.ladder.index(self.stage_resolution)

    @property
    def _fading(self) -> bool:
        return self._stage > 0 and self.alpha < 1.0


@dataclass
class ProGANGeneratorConfig(GeneratorConfig):
    nz: int = 512
    ngf: int = 512
    start_resolution: int = 4
    stage_images: int = 800_000
    fade_images: int = 800_000


@dataclass
class ProGANDiscriminatorConfig(DiscriminatorConfig):
    ndf: int = 512
    mbstd_group: int = 4


class _GBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = EqualizedConv2d(c_in, c_out, 3, padding=1)
        self.conv2 = EqualizedConv2d(c_out, c_out, 3, padding=1)
        self.norm = PixelNorm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(_lrelu(self.conv1(_up(x, 2))))
        return self.norm(_lrelu(self.conv2(x)))


class ProGANGenerator(_Growing):
    """Latent (pixel-normed) -> 4x4 -> [upsample, conv3, conv3] per doubling, each with
    equalized LR, LeakyReLU(0.2) and pixel norm; a 1x1 to-RGB per resolution. Linear output
    while training (as in the paper), clamped to [-1, 1] in eval mode."""

    config_class = ProGANGeneratorConfig
    resolutions = RESOLUTIONS

    def __init__(self, config: ProGANGeneratorConfig) -> None:
        super().__init__()
        self.config = config
        ladder = _ladder(config.resolution, "ProGAN")
        start = config.start_resolution
        if start not in ladder[:-1]:
            raise GanzooError(f"ProGAN generator.start_resolution must be one of "
                              f"{ladder[:-1]} (below train.resolution), got {start}")
        if config.stage_images < 0 or config.fade_images < 0:
            raise GanzooError("ProGAN generator.stage_images and generator.fade_images must be "
                              ">= 0 (images shown per stage and per fade-in)")
        self._init_progress(ladder)
        w = [_width(config.ngf, r) for r in ladder]
        self.norm = PixelNorm()
        self.input = EqualizedLinear(config.nz, w[0] * 16, gain=math.sqrt(2) / 4)
        self.input_conv = EqualizedConv2d(w[0], w[0], 3, padding=1)
        self.blocks = nn.ModuleList(_GBlock(a, b) for a, b in zip(w[:-1], w[1:]))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, config.channels, 1, gain=1.0) for c in w)

    def schedule(self, images_seen: int) -> dict[str, Any]:
        """The growth state after ``images_seen`` real images (see :func:`progress_at`)."""
        c = self.config
        resolution, alpha = progress_at(images_seen, c.start_resolution, c.resolution,
                                        c.stage_images, c.fade_images)
        return {"resolution": resolution, "alpha": alpha}

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = _lrelu(self.input(self.norm(z))).view(z.shape[0], -1, 4, 4)
        x = self.norm(_lrelu(self.input_conv(self.norm(x))))
        stage = self._stage
        for block in self.blocks[:stage - 1] if stage else []:
            x = block(x)
        if self._fading:
            low = _up(self.to_rgb[stage - 1](x), 2)
            out = torch.lerp(low, self.to_rgb[stage](self.blocks[stage - 1](x)), self.alpha)
        else:
            if stage:
                x = self.blocks[stage - 1](x)
            out = self.to_rgb[stage](x)
        if self.stage_resolution < self.config.resolution:
            out = _up(out, self.config.resolution // self.stage_resolution)
        return out if self.training else out.clamp(-1.0, 1.0)


class _DBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = EqualizedConv2d(c_in, c_in, 3, padding=1)
        self.conv2 = EqualizedConv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(_lrelu(self.conv2(_lrelu(self.conv1(x)))), 2)


class ProGANDiscriminator(_Growing):
    """From-RGB 1x1 at the live resolution -> [conv3, conv3, avgpool] per halving -> minibatch
    stddev, conv3, dense, dense -> one score. During a fade-in the new top block's output is
    blended with the previous from-RGB applied to the input pooled once more."""

    config_class = ProGANDiscriminatorConfig
    resolutions = RESOLUTIONS

    def __init__(self, config: ProGANDiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        ladder = _ladder(config.resolution, "ProGAN")
        if config.mbstd_group < 1:
            raise GanzooError("ProGAN discriminator.mbstd_group must be >= 1")
        self._init_progress(ladder)
        w = [_width(config.ndf, r) for r in ladder]
        self.from_rgb = nn.ModuleList(EqualizedConv2d(config.channels, c, 1) for c in w)
        self.blocks = nn.ModuleList(_DBlock(b, a) for a, b in zip(w[:-1], w[1:]))
        self.mbstd = MinibatchStdDev(config.mbstd_group)
        self.final_conv = EqualizedConv2d(w[0] + 1, w[0], 3, padding=1)
        self.final_dense = EqualizedLinear(w[0] * 16, w[0])
        self.out = EqualizedLinear(w[0], 1, gain=1.0)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        stage = self._stage
        if self.stage_resolution < self.config.resolution:
            x = F.avg_pool2d(x, self.config.resolution // self.stage_resolution)
        h = _lrelu(self.from_rgb[stage](x))
        if stage:
            h = self.blocks[stage - 1](h)
            if self._fading:
                low = _lrelu(self.from_rgb[stage - 1](F.avg_pool2d(x, 2)))
                h = torch.lerp(low, h, self.alpha)
            for block in reversed(self.blocks[:stage - 1]):
                h = block(h)
        h = _lrelu(self.final_conv(self.mbstd(h)))
        h = _lrelu(self.final_dense(h.flatten(1)))
        return self.out(h).squeeze(1)


@hookimpl
def register_architectures(register: RegisterArchitecture) -> None:
    register(
        "progan",
        generator=ProGANGenerator,
        discriminator=ProGANDiscriminator,
        description="progressive growing with fade-ins, equalized LR, pixel norm, "
                    "minibatch stddev",
        paper=PAPER,
    )
