"""R3GAN's modernised ResNet (Huang et al. 2024, "The GAN is dead; long live the GAN!"):
normalization-free G and D built from one residual block, trained with the relativistic
pairing loss and zero-centred R1 + R2 (the ``rpgan`` loss and its companions).

A block is ``x + 1x1(act(grouped 3x3(act(1x1 expand(x)))))``: the last 1x1 starts at zero, so
a fresh block is the identity, and the layers before it are initialised with fix-up scaling
(``L ** (-1 / (2 (K - 1)))`` for ``L`` blocks of ``K`` convolutions), so the network's output
variance does not grow with its depth. Leaky ReLU 0.2, biases, no BatchNorm, no spectral norm.
Resolution changes are low-pass (bilinear up, 2x2 average down) with a 1x1 conv where the
width changes. With ``num_classes > 0`` the class embedding enters G beside ``z`` and D by
projection.

The paper's CIFAR-10 model has 3 stages (8-32 px) of 768 channels in groups of 32. Sized for a
2-core CPU, the residual stages here run from 4x4 to half the resolution, and the full
resolution has a light stem only, as in DCGAN: G upsamples and draws the image with two 3x3
convs (``top`` channels between them), D reads it with one 4x4 stride-2 conv. Wide
activations at full resolution are what makes a CPU step slow (memory-bound element-wise
work), far more than their multiply-adds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.config import DiscriminatorConfig, GeneratorConfig
from ganzoo.errors import GanzooError
from ganzoo.hooks import hookimpl
from ganzoo.hooktypes import RegisterArchitecture
from ganzoo.nn import ClassProjection, embed_labels

PAPER = "https://arxiv.org/abs/2501.05441"
RESOLUTIONS = (16, 32, 64)
SLOPE = 0.2
GAIN = math.sqrt(2.0 / (1.0 + SLOPE**2))  # keeps leaky ReLU's output variance at its input's
CONVS_PER_BLOCK = 3


def _conv(c_in: int, c_out: int, kernel: int = 1, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    """A conv with He (MSR) initialisation times ``gain``; ``gain=0`` starts it at zero."""
    conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, groups=groups)
    fan_in = conv.weight[0].numel()
    nn.init.normal_(conv.weight, 0.0, gain / math.sqrt(fan_in))
    nn.init.zeros_(conv.bias)
    return conv


class ResidualBlock(nn.Module):
    """1x1 expand, grouped 3x3, 1x1 back (zero-initialised): the identity when new."""

    def __init__(self, width: int, expansion: int, group_channels: int, blocks: int) -> None:
        super().__init__()
        inner = width * expansion
        if inner % group_channels:
            raise GanzooError(f"r3gan: width x expansion ({inner}) must be a multiple of "
                              f"group_channels ({group_channels}); change one of them")
        fixup = blocks ** (-1.0 / (2 * (CONVS_PER_BLOCK - 1)))
        self.expand = _conv(width, inner, gain=GAIN * fixup)
        self.spatial = _conv(inner, inner, 3, groups=inner // group_channels, gain=GAIN * fixup)
        self.project = _conv(inner, width, gain=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.expand(x), SLOPE)
        h = F.leaky_relu(self.spatial(h), SLOPE)
        return x + self.project(h)


def _widths(config: R3GANGeneratorConfig | R3GANDiscriminatorConfig, who: str) -> list[int]:
    """One width per residual stage: 4x4 up to half of ``config.resolution``."""
    if config.resolution not in RESOLUTIONS:
        raise GanzooError(f"{who} supports resolutions {', '.join(map(str, RESOLUTIONS))}, got "
                          f"{config.resolution}; set train.resolution to one of them")
    stages = int(math.log2(config.resolution)) - 2  # 4, 8, ..., resolution / 2
    widths = list(config.widths)
    if len(widths) < stages or any(w < 1 for w in widths):
        half = config.resolution // 2
        raise GanzooError(f"{who}.widths needs {stages} positive widths (4x4 up to "
                          f"{half}x{half}), got {widths}")
    return widths[:stages]


def _stages(widths: list[int], config: R3GANGeneratorConfig | R3GANDiscriminatorConfig
            ) -> tuple[nn.ModuleList, nn.ModuleList]:
    """``config.blocks`` residual blocks per width, and a 1x1 conv between two stages whose
    widths differ (the identity where they match)."""
    total = config.blocks * len(widths)
    stages = nn.ModuleList(
        nn.Sequential(*(ResidualBlock(w, config.expansion, config.group_channels, total)
                        for _ in range(config.blocks))) for w in widths)
    transitions = nn.ModuleList(
        _conv(c_in, c_out, gain=GAIN) if c_in != c_out else nn.Identity()
        for c_in, c_out in zip(widths, widths[1:]))
    return stages, transitions


@dataclass
class R3GANGeneratorConfig(GeneratorConfig):
    nz: int = 64
    #: channels at 4x4, 8x8, ... up to half the resolution (the first ``log2(resolution) - 2``)
    widths: list[int] = field(default_factory=lambda: [128, 128, 96, 64])
    blocks: int = 1  # residual blocks per resolution
    expansion: int = 2
    group_channels: int = 16
    embed: int = 32  # class embedding size beside z (conditional only)
    top: int = 32  # channels of the full-resolution stem, between its two 3x3 convs


@dataclass
class R3GANDiscriminatorConfig(DiscriminatorConfig):
    widths: list[int] = field(default_factory=lambda: [128, 128, 96, 64])
    blocks: int = 1
    expansion: int = 2
    group_channels: int = 16


class R3GANGenerator(nn.Module):
    """z (+ class embedding) -> 4x4 basis -> [blocks, bilinear up, 1x1] per stage -> two 3x3
    convs to the image at full resolution -> tanh."""

    config_class = R3GANGeneratorConfig
    resolutions = RESOLUTIONS
    conditional = True
    soft_labels = True

    def __init__(self, config: R3GANGeneratorConfig) -> None:
        super().__init__()
        self.config = config
        widths = _widths(config, "generator")
        self.embed = (nn.Embedding(config.num_classes, config.embed)
                      if config.num_classes else None)
        z_in = config.nz + (config.embed if config.num_classes else 0)
        self.basis = nn.Linear(z_in, widths[0] * 16)
        nn.init.normal_(self.basis.weight, 0.0, 1.0 / math.sqrt(z_in))
        nn.init.zeros_(self.basis.bias)
        self.stages, self.transitions = _stages(widths, config)
        self.top = _conv(widths[-1], config.top, 3, gain=GAIN)
        self.to_image = _conv(config.top, config.channels, 3)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError("this r3gan generator is class-conditional: pass labels")
            z = torch.cat([z, embed_labels(self.embed, labels)], dim=1)
        x = F.leaky_relu(self.basis(z), SLOPE).view(z.shape[0], -1, 4, 4)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            if i < len(self.transitions):
                x = self.transitions[i](x)
        return torch.tanh(self.to_image(F.leaky_relu(self.top(x), SLOPE)))


class R3GANDiscriminator(nn.Module):
    """A 4x4 stride-2 conv from the image -> [blocks, 2x2 average down, 1x1] per stage ->
    depthwise 4x4 basis -> one logit (+ a class projection)."""

    config_class = R3GANDiscriminatorConfig
    resolutions = RESOLUTIONS
    conditional = True

    def __init__(self, config: R3GANDiscriminatorConfig) -> None:
        super().__init__()
        widths = _widths(config, "discriminator")[::-1]  # from half the resolution to 4x4
        self.from_image = nn.Conv2d(config.channels, widths[0], 4, stride=2, padding=1)
        nn.init.normal_(self.from_image.weight, 0.0, GAIN / math.sqrt(16 * config.channels))
        nn.init.zeros_(self.from_image.bias)
        self.stages, self.transitions = _stages(widths, config)
        self.basis = nn.Conv2d(widths[-1], widths[-1], 4, groups=widths[-1])
        nn.init.normal_(self.basis.weight, 0.0, 1.0 / 4.0)
        nn.init.zeros_(self.basis.bias)
        self.fc = nn.Linear(widths[-1], 1)
        self.projection = (ClassProjection(config.num_classes, widths[-1])
                           if config.num_classes else None)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = F.leaky_relu(self.from_image(x), SLOPE)
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if i < len(self.transitions):
                h = self.transitions[i](F.avg_pool2d(h, 2))
        h = F.leaky_relu(self.basis(h), SLOPE).flatten(1)
        out = self.fc(h).squeeze(1)
        if self.projection is not None:
            out = out + self.projection(h, labels)
        return out


@hookimpl
def register_architectures(register: RegisterArchitecture) -> None:
    register("r3gan", generator=R3GANGenerator, discriminator=R3GANDiscriminator,
             description="R3GAN's normalization-free grouped ResNet G and D (fix-up init, "
                         "zero-initialised residuals); class-conditional with "
                         "train.conditional (embedding beside z, projection D)",
             paper=PAPER)
