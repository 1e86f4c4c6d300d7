"""Layers shared by the built-in architectures."""

from ganzoo.nn.conditional import ClassProjection, ConditionalBatchNorm2d, embed_labels
from ganzoo.nn.equalized import EqualizedConv2d, EqualizedLinear
from ganzoo.nn.init import dcgan_init
from ganzoo.nn.norm import MinibatchStdDev, PixelNorm
from ganzoo.nn.spectral import sn, spectral_norm_all

__all__ = [
    "ClassProjection",
    "ConditionalBatchNorm2d",
    "EqualizedConv2d",
    "EqualizedLinear",
    "MinibatchStdDev",
    "PixelNorm",
    "dcgan_init",
    "embed_labels",
    "sn",
    "spectral_norm_all",
]
