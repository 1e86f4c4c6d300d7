"""A well-behaved plugin implementing every ganzoo hook, each with an effect a test can see."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import typer
from torch import nn

import ganzoo
from ganzoo.config import DiscriminatorConfig, GeneratorConfig
from ganzoo.data import ImageData

GANZOO_PLUGIN_API = (1, 3)
PENALTY = 1000.0  # constant regularizer value: d_loss in metrics.jsonl shows it was applied


@dataclass
class TinyGConfig(GeneratorConfig):
    hidden: int = 16


@dataclass
class TinyDConfig(DiscriminatorConfig):
    hidden: int = 16


class TinyG(nn.Module):
    config_class = TinyGConfig

    def __init__(self, config: TinyGConfig) -> None:
        super().__init__()
        self.config = config
        size = config.channels * config.resolution**2
        self.net = nn.Sequential(nn.Linear(config.nz, config.hidden), nn.ReLU(),
                                 nn.Linear(config.hidden, size), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        c, r = self.config.channels, self.config.resolution
        return self.net(z).view(-1, c, r, r)


class TinyD(nn.Module):
    config_class = TinyDConfig

    def __init__(self, config: TinyDConfig) -> None:
        super().__init__()
        size = config.channels * config.resolution**2
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(size, config.hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(config.hidden, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).flatten()


def stripes(resolution: int) -> ImageData:
    """16 grey images with vertical stripes of varying period."""
    cols = torch.arange(resolution)
    rows = [((cols // (1 + i % 4)) % 2 * 255).to(torch.uint8).expand(resolution, resolution)
            for i in range(16)]
    return ImageData(torch.stack(rows)[:, None].contiguous(), source="good-stripes (synthetic)")


@ganzoo.hookimpl
def register_architectures(register):
    register("good-gan", generator=TinyG, discriminator=TinyD, description="two tiny MLPs")


@ganzoo.hookimpl
def register_losses(register):
    register("good-loss", d_loss=lambda r, f: (F.softplus(-r) + F.softplus(f)).mean(),
             g_loss=lambda f, r: F.softplus(-f).mean(), description="logistic loss")


@ganzoo.hookimpl
def register_regularizers(register):
    register("good-penalty", fn=lambda D, real, fake, labels: real.new_tensor(PENALTY),
             description="a constant, so its effect shows in d_loss")


@ganzoo.hookimpl
def register_datasets(register):
    register("good-stripes", load=stripes, description="16 synthetic stripe images")


class PooledPixels:
    """Features: the image average-pooled to 4x4, so a 16-d vector."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(x, 4).flatten(1)


@ganzoo.hookimpl
def register_feature_extractors(register):
    register("good-pixels", load=lambda device="cpu": PooledPixels(), sha256="0" * 64,
             channels=(1, 3), resize="average-pooled to 4x4", description="pooled pixels")


@ganzoo.hookimpl
def register_recipes(register):
    register("good-tiny", {
        "description": "every component of this plugin together",
        "generator": {"arch": "good-gan", "nz": 8},
        "discriminator": {"arch": "good-gan"},
        "loss": "good-loss",
        "regularizers": ["good-penalty"],
        "train": {"resolution": 8, "batch": 4, "steps": 2, "dataset": "good-stripes",
                  "log_every": 1},
    })


WEIGHTS = Path(__file__).resolve().parent / "good-tiny.stripes.safetensors"


@ganzoo.hookimpl
def register_weights(register):
    # an untrained good-tiny generator (seed 0) in fp16, shipped as package data
    register("good-tiny.stripes", file=WEIGHTS.name, size=3000,
             sha256="341f78a0bb646c08ec1bcaab78b2162144021df8cc3c47b566eef9a970672aac",
             sources=[str(WEIGHTS)], recipe="good-tiny", dataset="good-stripes",
             command="ganzoo train --arch good-tiny --steps 0", steps=0,
             scores={"fd-good-pixels": 1.5}, protocol="a fixture's made-up score",
             license="MIT", description="a fixture's pretrained weights")


@ganzoo.hookimpl
def register_commands(app):
    @app.command("good-hello")
    def hello(name: str = typer.Option("world", help="Who to greet.")) -> None:
        """Greet someone (a command added by the ganzoo-fixture-good plugin)."""
        typer.echo(f"hello {name} from ganzoo-fixture-good")
