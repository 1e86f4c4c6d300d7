"""Class-conditional DCGAN: conditional BatchNorm in G and a projection discriminator
(Miyato & Koyama 2018) on the DCGAN layer layout. Labels are used when the config has
``num_classes > 0`` (``train.conditional: true``, as the ``dcgan-cond`` recipe sets); with none
it is a plain DCGAN with a sum-pooled projection-ready D."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.hooks import hookimpl
from ganzoo.hooktypes import RegisterArchitecture
from ganzoo.nn import ClassProjection, ConditionalBatchNorm2d, dcgan_init, embed_labels
from ganzoo.nn.conditional import require_labels
from ganzoo.zoo.dcgan import (
    RESOLUTIONS,
    DCGANDiscriminatorConfig,
    DCGANGeneratorConfig,
    _num_blocks,
)

PAPER = "https://arxiv.org/abs/1802.05637"


class CondDCGANGenerator(nn.Module):
    """DCGAN's generator with every BatchNorm's scale and shift chosen by the class label."""

    config_class = DCGANGeneratorConfig
    resolutions = RESOLUTIONS
    conditional = True
    soft_labels = True

    def __init__(self, config: DCGANGeneratorConfig) -> None:
        super().__init__()
        self.config = config
        n = _num_blocks(config.resolution, "DCGAN")
        width = [config.ngf * 2 ** (n - 1 - i) for i in range(n)]
        # the label also enters with z (a learned embedding beside it): conditional BatchNorm
        # alone starts class-blind (scale 1, shift 0) and takes thousands of steps to learn
        self.embed = (nn.Embedding(config.num_classes, config.nz) if config.num_classes
                      else None)
        z_in = config.nz * (2 if self.embed is not None else 1)
        self.convs = nn.ModuleList([nn.ConvTranspose2d(z_in, width[0], 4, 1, 0, bias=False)])
        self.convs.extend(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)
                          for c_in, c_out in zip(width[:-1], width[1:]))
        self.norms = nn.ModuleList(ConditionalBatchNorm2d(c, config.num_classes) for c in width)
        self.to_image = nn.ConvTranspose2d(width[-1], config.channels, 4, 2, 1, bias=False)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        labels = labels if self.config.num_classes else None
        if self.embed is not None:
            labels = require_labels(labels, "CondDCGANGenerator")
            z = torch.cat([z, embed_labels(self.embed, labels)], dim=1)
        h = z[:, :, None, None]
        for conv, norm in zip(self.convs, self.norms):
            h = F.relu(norm(conv(h), labels))
        return torch.tanh(self.to_image(h))


class CondDCGANDiscriminator(nn.Module):
    """DCGAN's discriminator; its logit gains the projection ``<embed(y), sum_xy phi(x)>`` of
    the last 4x4 feature map onto the class embedding."""

    config_class = DCGANDiscriminatorConfig
    resolutions = RESOLUTIONS
    conditional = True

    def __init__(self, config: DCGANDiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        n = _num_blocks(config.resolution, "DCGAN")
        width = [config.ndf * 2**i for i in range(n)]
        layers: list[nn.Module] = [nn.Conv2d(config.channels, width[0], 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(width[:-1], width[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.logit = nn.Conv2d(width[-1], 1, 4, 1, 0, bias=False)
        dcgan_init(self)
        self.projection = (ClassProjection(config.num_classes, width[-1])
                           if config.num_classes else None)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        out = self.logit(h).flatten()
        if self.projection is not None:
            out = out + self.projection(h.sum(dim=(2, 3)), labels)
        return out


@hookimpl
def register_architectures(register: RegisterArchitecture) -> None:
    register(
        "dcgan-cond",
        generator=CondDCGANGenerator,
        discriminator=CondDCGANDiscriminator,
        description="class-conditional DCGAN: conditional BatchNorm G, projection D",
        paper=PAPER,
    )
