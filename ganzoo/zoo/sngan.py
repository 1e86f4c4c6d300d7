"""Spectrally normalized GANs (Miyato et al. 2018): the paper's "standard CNN" (``sngan``) and
its ResNet (``sngan-resnet``), which is class-conditional when trained with
``train.conditional: true`` (conditional BatchNorm in G, projection discriminator).

Spectral normalization uses ``torch.nn.utils.parametrizations.spectral_norm`` on every D layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.config import DiscriminatorConfig, GeneratorConfig
from ganzoo.errors import GanzooError
from ganzoo.hooks import hookimpl
from ganzoo.hooktypes import RegisterArchitecture
from ganzoo.nn import ClassProjection, ConditionalBatchNorm2d, dcgan_init, spectral_norm_all

PAPER = "https://arxiv.org/abs/1802.05957"
PROJECTION_PAPER = "https://arxiv.org/abs/1802.05637"
RESOLUTIONS = (16, 32, 64, 128)


def _num_ups(resolution: int, who: str) -> int:
    if resolution not in RESOLUTIONS:
        raise GanzooError(
            f"{who} supports resolutions {', '.join(map(str, RESOLUTIONS))}, got {resolution}; "
            "set train.resolution to one of them"
        )
    return int(math.log2(resolution)) - 2  # doublings from 4x4


# -- the standard CNN ------------------------------------------------------------------------


@dataclass
class SNDCGANGeneratorConfig(GeneratorConfig):
    nz: int = 128
    ngf: int = 64


@dataclass
class SNDCGANDiscriminatorConfig(DiscriminatorConfig):
    ndf: int = 64


class SNDCGANGenerator(nn.Module):
    """Dense -> 4x4x(8 ngf), stride-2 transposed convs with BatchNorm + ReLU, a 3x3 conv, tanh
    (the paper's Table 3; 512-256-128-64 channels at 32x32 with ngf=64)."""

    config_class = SNDCGANGeneratorConfig
    resolutions = RESOLUTIONS

    def __init__(self, config: SNDCGANGeneratorConfig) -> None:
        super().__init__()
        self.config = config
        n = _num_ups(config.resolution, "SN-GAN")
        widths = [config.ngf * 2 ** (n - i) for i in range(n + 1)]
        self.fc = nn.Linear(config.nz, widths[0] * 16)
        layers: list[nn.Module] = [nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out),
                       nn.ReLU(True)]
        layers += [nn.Conv2d(widths[-1], config.channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.fc(z).view(z.shape[0], -1, 4, 4))


class SNDCGANDiscriminator(nn.Module):
    """Pairs of 3x3 stride-1 and 4x4 stride-2 convs with LeakyReLU(0.1), a last 3x3 conv and a
    dense layer, all spectrally normalized (64-64-128-128-256-256-512 at 32x32 with ndf=64)."""

    config_class = SNDCGANDiscriminatorConfig
    resolutions = RESOLUTIONS

    def __init__(self, config: SNDCGANDiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        n = _num_ups(config.resolution, "SN-GAN")
        widths = [config.ndf * 2**i for i in range(n + 1)]
        layers: list[nn.Module] = [nn.Conv2d(config.channels, widths[0], 3, 1, 1),
                                   nn.LeakyReLU(0.1, True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(c_in, c_in, 4, 2, 1), nn.LeakyReLU(0.1, True),
                       nn.Conv2d(c_in, c_out, 3, 1, 1), nn.LeakyReLU(0.1, True)]
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(widths[-1] * 16, 1)
        dcgan_init(self)
        spectral_norm_all(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc(self.net(x).flatten(1)).squeeze(1)


# -- the ResNet ------------------------------------------------------------------------------

# Channel multipliers of ngf / ndf per resolution, as data (the paper's models at ngf = ndf =
# 64: 256 G / 128 D channels at 32x32, like its CIFAR-10 model; doubling towards 4x4 above, like
# its STL-10 / ImageNet models).
G_WIDTHS = {16: (4, 4, 4), 32: (4, 4, 4, 4), 64: (16, 8, 4, 2, 1),
            128: (16, 16, 8, 4, 2, 1)}
# (multiplier, downsample) per D block after the first, which always halves the size.
D_FIRST = {16: 2, 32: 2, 64: 1, 128: 1}
D_BLOCKS = {16: ((2, True), (2, False)),
            32: ((2, True), (2, False), (2, False)),
            64: ((2, True), (4, True), (8, True), (16, False)),
            128: ((2, True), (4, True), (8, True), (16, True), (16, False))}


def _xavier(module: nn.Module, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(module.weight, gain)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)
    return module


def _conv(c_in: int, c_out: int, k: int, gain: float = math.sqrt(2)) -> nn.Conv2d:
    return _xavier(nn.Conv2d(c_in, c_out, k, 1, k // 2), gain)


@dataclass
class SNResNetGeneratorConfig(GeneratorConfig):
    nz: int = 128
    ngf: int = 64


@dataclass
class SNResNetDiscriminatorConfig(DiscriminatorConfig):
    ndf: int = 64


class _GBlock(nn.Module):
    """BN-ReLU-upsample(nearest)-conv3-BN-ReLU-conv3, plus an upsampled 1x1-conv shortcut."""

    def __init__(self, c_in: int, c_out: int, num_classes: int) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(c_in, num_classes)
        self.conv1 = _conv(c_in, c_out, 3)
        self.bn2 = ConditionalBatchNorm2d(c_out, num_classes)
        self.conv2 = _conv(c_out, c_out, 3)
        self.shortcut = _conv(c_in, c_out, 1, gain=1.0)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, labels)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), labels)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _DBlock(nn.Module):
    """(ReLU)-conv3-ReLU-conv3-(avgpool), plus a 1x1-conv shortcut when the shape changes.
    The first block of D skips the leading ReLU and pools before its shortcut conv."""

    def __init__(self, c_in: int, c_out: int, downsample: bool, first: bool = False) -> None:
        super().__init__()
        self.first, self.downsample = first, downsample
        self.conv1 = _conv(c_in, c_out, 3)
        self.conv2 = _conv(c_out, c_out, 3)
        self.shortcut = (_conv(c_in, c_out, 1, gain=1.0)
                         if first or downsample or c_in != c_out else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        if self.first:
            return h + self.shortcut(F.avg_pool2d(x, 2))
        if self.shortcut is not None:
            x = self.shortcut(x)
        return h + (F.avg_pool2d(x, 2) if self.downsample else x)


class SNResNetGenerator(nn.Module):
    """Dense -> 4x4, residual up-blocks (nearest upsampling), BN-ReLU-conv3-tanh. With
    ``num_classes > 0`` every block's BatchNorm is class-conditional."""

    config_class = SNResNetGeneratorConfig
    resolutions = RESOLUTIONS
    conditional = True
    soft_labels = True

    def __init__(self, config: SNResNetGeneratorConfig) -> None:
        super().__init__()
        self.config = config
        _num_ups(config.resolution, "SN-ResNet")
        widths = [config.ngf * m for m in G_WIDTHS[config.resolution]]
        self.fc = _xavier(nn.Linear(config.nz, widths[0] * 16), 1.0)
        self.blocks = nn.ModuleList(
            _GBlock(c_in, c_out, config.num_classes)
            for c_in, c_out in zip(widths[:-1], widths[1:])
        )
        self.out = nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU(True),
                                 _conv(widths[-1], config.channels, 3, gain=1.0), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], -1, 4, 4)
        for block in self.blocks:
            h = block(h, labels if self.config.num_classes else None)
        return self.out(h)


class SNResNetDiscriminator(nn.Module):
    """Residual down-blocks, ReLU, global sum pooling, a dense logit; with ``num_classes > 0``
    plus the projection term. Every layer, the class embedding included, is spectrally
    normalized."""

    config_class = SNResNetDiscriminatorConfig
    resolutions = RESOLUTIONS
    conditional = True

    def __init__(self, config: SNResNetDiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        _num_ups(config.resolution, "SN-ResNet")
        c = config.ndf * D_FIRST[config.resolution]
        blocks = [_DBlock(config.channels, c, downsample=True, first=True)]
        for mult, down in D_BLOCKS[config.resolution]:
            blocks.append(_DBlock(c, config.ndf * mult, down))
            c = config.ndf * mult
        self.blocks = nn.Sequential(*blocks)
        self.fc = _xavier(nn.Linear(c, 1), 1.0)
        self.projection = ClassProjection(config.num_classes, c) if config.num_classes else None
        spectral_norm_all(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        out = self.fc(h).squeeze(1)
        if self.projection is not None:
            out = out + self.projection(h, labels)
        return out


@hookimpl
def register_architectures(register: RegisterArchitecture) -> None:
    register(
        "sngan",
        generator=SNDCGANGenerator,
        discriminator=SNDCGANDiscriminator,
        description="SN-GAN 'standard CNN': DCGAN-like G, spectrally normalized CNN D",
        paper=PAPER,
    )
    register(
        "sngan-resnet",
        generator=SNResNetGenerator,
        discriminator=SNResNetDiscriminator,
        description="SN-GAN ResNet G/D; with train.conditional, conditional BatchNorm in G "
                    f"and a projection discriminator ({PROJECTION_PAPER})",
        paper=PAPER,
    )
