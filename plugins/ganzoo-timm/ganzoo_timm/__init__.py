"""ganzoo-timm: a projected discriminator on timm backbones, as a ganzoo plugin.

Registered through the ``ganzoo`` entry-point group (``timm = "ganzoo_timm"``), exactly like
any third-party plugin; ganzoo itself never imports this package.
"""

from __future__ import annotations

import ganzoo
from ganzoo.hooktypes import RegisterArchitecture, RegisterRecipe
from ganzoo_timm.projected import PAPER, ProjectedDiscriminator, ProjectedDiscriminatorConfig

__version__ = "0.1.0"
__all__ = ["ProjectedDiscriminator", "ProjectedDiscriminatorConfig"]

RECIPE = {
    "description": "DCGAN generator vs a projected discriminator (frozen timm backbone, random "
                   "projections, multi-scale heads), hinge loss",
    "paper": PAPER,
    "generator": {"arch": "ganzoo:dcgan", "nz": 100, "ngf": 64},
    "discriminator": {"arch": "projected", "backbone": "efficientnet_lite0", "ndf": 64},
    "loss": "hinge",
    # DiffAugment on D's inputs: without it a D on frozen random features separates reals
    # from fakes perfectly within 300 steps (D loss 0) and G stalls. Translation alone, with
    # lr 5e-4, shows clothing after 600 steps (fd-fmnist 76); the paper's color+translation+
    # cutout at its lr 2e-4 needed about 1000 (benchmarks/RESULTS.md in the ganzoo repo)
    "train": {"resolution": 32, "batch": 64, "lr": 5.0e-4, "betas": [0.0, 0.99],
              "steps": 2000, "augment": "translation"},
}


@ganzoo.hookimpl
def register_architectures(register: RegisterArchitecture) -> None:
    register("projected", discriminator=ProjectedDiscriminator,
             description="projected discriminator: frozen timm feature backbone, random "
                         "projections, multi-scale heads (discriminator only)",
             paper=PAPER)


@ganzoo.hookimpl
def register_recipes(register: RegisterRecipe) -> None:
    register("projected", RECIPE)
