"""Layers shared by the built-in architectures."""

from ganzoo.nn.init import dcgan_init

__all__ = ["dcgan_init"]
