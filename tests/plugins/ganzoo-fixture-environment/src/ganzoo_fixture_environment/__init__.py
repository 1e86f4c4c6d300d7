"""A plugin like one a user installs from the docs: an architecture ``mlp`` (the name of the
toy architecture ganzoo's own tests register), two losses, a regularizer ``lp`` and two
recipes. Installed beside ganzoo, it must not change what ganzoo's test suite sees."""

from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.config import DiscriminatorConfig, GeneratorConfig


@dataclass
class MLPGConfig(GeneratorConfig):
    width: int = 64


@dataclass
class MLPDConfig(DiscriminatorConfig):
    width: int = 64


class MLPG(nn.Module):
    config_class = MLPGConfig

    def __init__(self, config: MLPGConfig) -> None:
        super().__init__()
        self.shape = (config.channels, config.resolution, config.resolution)
        self.net = nn.Sequential(nn.Linear(config.nz, config.width), nn.ReLU(),
                                 nn.Linear(config.width, config.channels * config.resolution**2),
                                 nn.Tanh())

    def forward(self, z, labels=None):
        return self.net(z).view(-1, *self.shape)


class MLPD(nn.Module):
    config_class = MLPDConfig

    def __init__(self, config: MLPDConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(),
                                 nn.Linear(config.channels * config.resolution**2, config.width),
                                 nn.LeakyReLU(0.2), nn.Linear(config.width, 1))

    def forward(self, x, labels=None):
        return self.net(x).flatten()


@ganzoo.hookimpl
def register_architectures(register):
    register("mlp", generator=MLPG, discriminator=MLPD, description="a two-layer MLP GAN")


@ganzoo.hookimpl
def register_losses(register):
    register("softplus-gap", d_loss=lambda r, f: F.softplus(f - r).mean(),
             g_loss=lambda f, r: F.softplus(-f).mean())
    register("mean-gap", d_loss=lambda r, f: (f - r).mean(), g_loss=lambda f, r: -f.mean())


def lp_penalty(D, real, fake, labels=None):
    return D(real, labels).float().abs().mean()


@ganzoo.hookimpl
def register_regularizers(register):
    register("lp", fn=lp_penalty, weight=0.1)


@ganzoo.hookimpl
def register_recipes(register):
    for name, resolution in (("mlp-gan", 16), ("mlp-gan-32", 32)):
        register(name, {"description": "an MLP GAN", "generator": {"arch": "mlp"},
                        "discriminator": {"arch": "mlp"}, "loss": "softplus-gap",
                        "regularizers": ["lp"], "train": {"resolution": resolution}})

