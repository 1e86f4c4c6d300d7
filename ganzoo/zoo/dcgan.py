"""DCGAN (Radford, Metz & Chintala 2015) for any power-of-two resolution from 16 to 128."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ganzoo.config import DiscriminatorConfig, GeneratorConfig
from ganzoo.errors import GanzooError
from ganzoo.hooks import hookimpl
from ganzoo.hooktypes import RegisterArchitecture
from ganzoo.nn import dcgan_init

RESOLUTIONS = (16, 32, 64, 128)
PAPER = "https://arxiv.org/abs/1511.06434"


def _num_blocks(resolution: int, who: str) -> int:
    if resolution not in RESOLUTIONS:
        raise GanzooError(
            f"{who} supports resolutions {', '.join(map(str, RESOLUTIONS))}, got {resolution}; "
            "set train.resolution to one of them"
        )
    return int(math.log2(resolution)) - 2  # 4x4 -> resolution


@dataclass
class DCGANGeneratorConfig(GeneratorConfig):
    ngf: int = 64


@dataclass
class DCGANDiscriminatorConfig(DiscriminatorConfig):
    ndf: int = 64


class DCGANGenerator(nn.Module):
    """z -> 4x4 by a transposed conv, then stride-2 transposed convs with BatchNorm + ReLU."""

    config_class = DCGANGeneratorConfig
    resolutions = RESOLUTIONS

    def __init__(self, config: DCGANGeneratorConfig) -> None:
        super().__init__()
        self.config = config
        n = _num_blocks(config.resolution, "DCGAN")
        width = [config.ngf * 2 ** (n - 1 - i) for i in range(n)]  # e.g. 8g, 4g, 2g, g
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(config.nz, width[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(width[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(width[:-1], width[1:]):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(width[-1], config.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """Stride-2 convs with LeakyReLU(0.2) (BatchNorm after the first) down to 4x4 -> one logit."""

    config_class = DCGANDiscriminatorConfig
    resolutions = RESOLUTIONS

    def __init__(self, config: DCGANDiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        n = _num_blocks(config.resolution, "DCGAN")
        width = [config.ndf * 2**i for i in range(n)]  # e.g. d, 2d, 4d, 8d
        layers: list[nn.Module] = [
            nn.Conv2d(config.channels, width[0], 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
        ]
        for c_in, c_out in zip(width[:-1], width[1:]):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(width[-1], 1, 4, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).flatten()


@hookimpl
def register_architectures(register: RegisterArchitecture) -> None:
    register(
        "dcgan",
        generator=DCGANGenerator,
        discriminator=DCGANDiscriminator,
        description="Deep convolutional GAN: transposed convs, BatchNorm, LeakyReLU D",
        paper=PAPER,
    )
