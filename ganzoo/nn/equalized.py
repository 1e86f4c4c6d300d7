"""Equalized learning rate (Karras et al. 2018): weights stored as N(0, 1) and scaled by the
He constant at every forward, so Adam's per-parameter step sizes treat all layers alike."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


class EqualizedConv2d(nn.Module):
    """A conv whose effective weight is ``weight * gain / sqrt(fan_in)``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, padding: int = 0,
                 gain: float = SQRT2) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale = gain / math.sqrt(c_in * kernel_size * kernel_size)
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        c_out, c_in, k, _ = self.weight.shape
        return f"{c_in}, {c_out}, kernel_size={k}, padding={self.padding}"


class EqualizedLinear(nn.Module):
    """A linear layer whose effective weight is ``weight * gain / sqrt(fan_in)``."""

    def __init__(self, c_in: int, c_out: int, gain: float = SQRT2) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale = gain / math.sqrt(c_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)

    def extra_repr(self) -> str:
        c_out, c_in = self.weight.shape
        return f"{c_in}, {c_out}"
