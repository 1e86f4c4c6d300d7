"""A tiny BatchNorm-free MLP GAN, registered in-process by tests that need exact maths."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

import ganzoo
from ganzoo.config import DiscriminatorConfig, GeneratorConfig


@dataclass
class MLPGeneratorConfig(GeneratorConfig):
    hidden: int = 32


@dataclass
class MLPDiscriminatorConfig(DiscriminatorConfig):
    hidden: int = 32


class MLPGenerator(nn.Module):
    config_class = MLPGeneratorConfig

    def __init__(self, config: MLPGeneratorConfig) -> None:
        super().__init__()
        self.config = config
        out = config.channels * config.resolution**2
        self.net = nn.Sequential(nn.Linear(config.nz, config.hidden), nn.ReLU(),
                                 nn.Linear(config.hidden, out), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        c, r = self.config.channels, self.config.resolution
        return self.net(z).view(-1, c, r, r)


class MLPDiscriminator(nn.Module):
    config_class = MLPDiscriminatorConfig

    def __init__(self, config: MLPDiscriminatorConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(),
                                 nn.Linear(config.channels * config.resolution**2, config.hidden),
                                 nn.LeakyReLU(0.2), nn.Linear(config.hidden, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).flatten()


class ToyPlugin:
    @ganzoo.hookimpl
    def register_architectures(self, register):
        register("mlp", generator=MLPGenerator, discriminator=MLPDiscriminator,
                 description="tiny MLP GAN for tests")
