"""Built-in discriminator regularizers: R1, R2, gradient penalty, drift.

Each is ``fn(D, real, fake, labels) -> scalar``, unweighted; the training core multiplies by
the regularizer's weight (and by its interval when run lazily, Karras et al. 2020).

Penalties run in fp32 with autocast off (:func:`fp32_penalty`): a gradient norm squared in
bf16/fp16 loses most of its precision (or overflows), and they are cheap next to the D step
they regularize.

They take the gradient of ``D(x).sum()`` with respect to ``x``, which is each sample's own
gradient only when D treats samples independently; a D with BatchNorm in training mode mixes
the batch, and the penalty then includes those cross-sample terms too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from ganzoo.hooks import hookimpl
from ganzoo.hooktypes import RegisterRegularizer

MESCHEDER = "https://arxiv.org/abs/1801.04406"  # R1 / R2
GULRAJANI = "https://arxiv.org/abs/1704.00028"  # gradient penalty
KARRAS_PGGAN = "https://arxiv.org/abs/1710.10196"  # drift


def fp32_penalty(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Run a penalty ``fn(D, real, fake, labels)`` with autocast off and fp32 image batches,
    also when the training step around it runs under bf16/fp16 autocast."""

    @functools.wraps(fn)
    def wrapper(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        with torch.autocast(device_type=real.device.type, enabled=False), torch.enable_grad():
            return fn(D, real.detach().float(), fake.detach().float(), labels)

    return wrapper


def input_gradients(D: nn.Module, x: torch.Tensor,
                    labels: torch.Tensor | None = None) -> torch.Tensor:
    """``∇ₓ D(x)`` per sample, flattened to ``[N, C*H*W]`` and differentiable
    (``create_graph``) so that a penalty on it trains D. Call it inside :func:`fp32_penalty`."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x, labels).sum(), x, create_graph=True)
    return grad.flatten(1)


@fp32_penalty
def r1_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               labels: torch.Tensor | None = None) -> torch.Tensor:
    """1/2 E[‖∇ₓD(x)‖²] on reals (the weight is Mescheder's γ): D flat on the data manifold."""
    return 0.5 * input_gradients(D, real, labels).square().sum(1).mean()


@fp32_penalty
def r2_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               labels: torch.Tensor | None = None) -> torch.Tensor:
    """1/2 E[‖∇ₓD(x)‖²] on fakes.

    ``labels`` are the real batch's; a conditional run's fakes carry their own labels, which
    this interface does not receive, so for conditional D the penalty uses the real ones.
    """
    return 0.5 * input_gradients(D, fake, labels).square().sum(1).mean()


@fp32_penalty
def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     labels: torch.Tensor | None = None) -> torch.Tensor:
    """E[(‖∇ₓD(x̂)‖ - 1)²] at x̂ uniformly between a real and a fake (two-sided penalty)."""
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device)
    mixed = torch.lerp(fake, real, alpha)
    norms = input_gradients(D, mixed, labels).norm(2, dim=1)
    return (norms - 1.0).square().mean()


@fp32_penalty
def drift_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                  labels: torch.Tensor | None = None) -> torch.Tensor:
    """E[D(x)²] on reals: keeps a Wasserstein critic's scores from drifting away from 0."""
    return D(real, labels).float().square().mean()


@hookimpl
def register_regularizers(register: RegisterRegularizer) -> None:
    register("r1", fn=r1_penalty, weight=10.0, interval=16,
             description="R1: γ/2·E‖∇D(x)‖² on reals, weight γ (Mescheder et al. 2018)",
             paper=MESCHEDER)
    register("r2", fn=r2_penalty, weight=10.0, interval=16,
             description="R2: γ/2·E‖∇D(G(z))‖² on fakes, weight γ (Mescheder et al. 2018)",
             paper=MESCHEDER)
    register("gp", fn=gradient_penalty, weight=10.0, interval=1,
             description="gradient penalty: λ·E(‖∇D(x̂)‖-1)² at random real/fake interpolates x̂",
             paper=GULRAJANI)
    register("drift", fn=drift_penalty, weight=0.001, interval=1,
             description="drift: ε·E[D(x)²] on reals, keeps critic scores near 0 (PGGAN)",
             paper=KARRAS_PGGAN)
