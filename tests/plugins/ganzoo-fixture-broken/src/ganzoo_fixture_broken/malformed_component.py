"""Registers one valid architecture, then one whose generator has no ``config_class``."""

from torch import nn

import ganzoo
from ganzoo.zoo.dcgan import DCGANGenerator


class NoConfig(nn.Module):
    pass


@ganzoo.hookimpl
def register_architectures(register):
    register("malformed-ok", generator=DCGANGenerator)
    register("malformed-bad", generator=NoConfig)
