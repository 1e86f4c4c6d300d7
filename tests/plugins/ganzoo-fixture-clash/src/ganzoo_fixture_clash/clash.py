"""Provides an architecture named ``dcgan`` without declaring ``replaces``: the short name
becomes ambiguous, full names keep working."""

import ganzoo
from ganzoo.zoo.dcgan import DCGANDiscriminator, DCGANGenerator


@ganzoo.hookimpl
def register_architectures(register):
    register("dcgan", generator=DCGANGenerator, discriminator=DCGANDiscriminator,
             description="a second dcgan")
