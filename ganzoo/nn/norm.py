"""Normalization layers: pixel norm (PGGAN) and the minibatch standard deviation feature."""

from __future__ import annotations

import torch
from torch import nn


class PixelNorm(nn.Module):
    """Scale each pixel's feature vector to unit average square (Karras et al. 2018, 4.2):
    keeps G's signal magnitudes from escalating without BatchNorm's batch coupling."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """Append one channel holding the average standard deviation of the features across
    groups of ``group_size`` images (Karras et al. 2018, 3): lets D see batch variety, which
    discourages mode collapse. Images ``i`` and ``j`` share a group when ``i % M == j % M``."""

    def __init__(self, group_size: int = 4, eps: float = 1e-8) -> None:
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        while n % g:
            g -= 1
        y = x.reshape(g, n // g, c, h, w)
        y = (y - y.mean(dim=0, keepdim=True)).square().mean(dim=0)
        y = (y + self.eps).sqrt().mean(dim=(1, 2, 3))  # [n // g]
        y = y.reshape(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, y], dim=1)
