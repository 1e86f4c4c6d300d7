from __future__ import annotations

import pytest
import torch

from ganzoo import create_discriminator, create_generator
from ganzoo.errors import GanzooError
from ganzoo.zoo.dcgan import DCGANDiscriminatorConfig, DCGANGeneratorConfig


@pytest.mark.parametrize("resolution", [16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(resolution, channels):
    g = create_generator("dcgan", DCGANGeneratorConfig(nz=16, ngf=8, resolution=resolution,
                                                       channels=channels))
    d = create_discriminator("dcgan", DCGANDiscriminatorConfig(ndf=8, resolution=resolution,
                                                               channels=channels))
    x = g(torch.randn(3, 16))
    assert x.shape == (3, channels, resolution, resolution)
    assert x.min() >= -1 and x.max() <= 1
    assert d(x).shape == (3,)


def test_dcgan_init_follows_the_paper():
    g = create_generator("dcgan", {"ngf": 32})
    conv = g.net[0].weight
    assert abs(conv.std().item() - 0.02) < 0.002 and abs(conv.mean().item()) < 0.002


def test_dcgan_rejects_unsupported_resolution():
    with pytest.raises(GanzooError, match="supports resolutions 16, 32, 64, 128"):
        create_generator("dcgan", DCGANGeneratorConfig(resolution=256))
