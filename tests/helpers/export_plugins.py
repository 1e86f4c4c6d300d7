"""Tiny generators the export tests register in-process, and helpers shared by them.

- ``tiny-cond-sn``: class-conditional, spectral-normalized (``torch.nn.utils.parametrizations``),
  the kind of generator the zoo's SN architectures will be;
- ``tiny-identity``: images are the latents, reshaped and clipped, so the uint8 post-processing
  can be checked on chosen values;
- ``tiny-noisy``: adds fresh noise in forward(), so no graph can ever match torch.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import ganzoo
from ganzoo import host
from ganzoo.config import GeneratorConfig


@dataclass
class TinyConfig(GeneratorConfig):
    nz: int = 16
    resolution: int = 8
    channels: int = 3
    width: int = 8


class CondSNGenerator(nn.Module):
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(max(config.num_classes, 1), config.nz)
        self.fc = spectral_norm(nn.Linear(config.nz, config.width * 16))
        self.conv = spectral_norm(nn.Conv2d(config.width, config.channels, 3, padding=1))
        self.up = nn.Upsample(scale_factor=config.resolution // 4)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            z = z * (1 + self.embed(labels))
        h = torch.relu(self.fc(z)).view(z.shape[0], self.config.width, 4, 4)
        return torch.tanh(self.conv(self.up(h)))


class IdentityGenerator(nn.Module):
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.anchor = nn.Parameter(torch.zeros(1))  # a module with no weights is not a model

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        c, r = self.config.channels, self.config.resolution
        return (z.view(z.shape[0], c, r, r) + self.anchor).clamp(-1.0, 1.0)


class NoisyGenerator(CondSNGenerator):
    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.tanh(super().forward(z, labels) + torch.randn(z.shape[0], 1, 1, 1))


class ExportTestArchitectures:
    @ganzoo.hookimpl
    def register_architectures(self, register):
        register("tiny-cond-sn", generator=CondSNGenerator, description="test: cond + SN")
        register("tiny-identity", generator=IdentityGenerator, description="test: identity")
        register("tiny-noisy", generator=NoisyGenerator, description="test: noisy forward")


@contextlib.contextmanager
def extra_architectures():
    """The test architectures registered as plugin ``exporttests`` for the ``with`` block."""
    plugin = ExportTestArchitectures()
    host.register_plugin(plugin, "exporttests")
    try:
        yield
    finally:
        host.unregister_plugin(plugin, "exporttests")


def trained_like(G: nn.Module, nz: int, num_classes: int = 0, seed: int = 0) -> nn.Module:
    """Weights and BatchNorm statistics at the scale of a trained generator, in eval mode.

    Freshly initialized GANs output values near 0, where every check passes; here each weight
    matrix gets unit-gain fan-in scaling and BatchNorm statistics are measured on real batches,
    so outputs spread over [-1, 1] as a trained model's do.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if p.dim() >= 2 and "embed" not in name:
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p[0].numel()))
        norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
        G.train()
        for _ in range(3):
            z = torch.randn(64, nz, generator=gen)
            labels = torch.randint(0, num_classes, (64,), generator=gen) if num_classes else None
            G(z, labels)
        for m in norms:
            m.momentum = 0.1
    return G.eval().requires_grad_(False)
