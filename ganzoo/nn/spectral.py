"""Spectral normalization (Miyato et al. 2018) applied through torch's parametrizations."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

SN_TYPES = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)


def sn(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """``module`` with its weight divided by its largest singular value (one power iteration
    per training forward, as in the paper)."""
    return spectral_norm(module, n_power_iterations=n_power_iterations)


def spectral_norm_all(module: nn.Module) -> nn.Module:
    """Spectrally normalize every conv, linear and embedding layer inside ``module``."""
    for layer in [m for m in module.modules() if isinstance(m, SN_TYPES)]:
        sn(layer)
    return module
