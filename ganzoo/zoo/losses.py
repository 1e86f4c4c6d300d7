"""Built-in adversarial losses, on raw logits (numerically stable through softplus).

With D's logit ``l`` and ``sigmoid(l) = P(real)``: ``-log sigmoid(l) = softplus(-l)`` and
``-log(1 - sigmoid(l)) = softplus(l)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganzoo.hooks import hookimpl

GOODFELLOW = "https://arxiv.org/abs/1406.2661"


def bce_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))]."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def bce_minimax_g_loss(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """log(1 - D(G(z))): the original minimax objective (gradients vanish when D wins)."""
    return -F.softplus(fake).mean()


def bce_ns_g_loss(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """-log D(G(z)): the non-saturating form used in practice."""
    return F.softplus(-fake).mean()


@hookimpl
def register_losses(register):
    register(
        "bce",
        d_loss=bce_d_loss,
        g_loss=bce_minimax_g_loss,
        description="minimax BCE: G minimises log(1 - D(G(z)))",
        paper=GOODFELLOW,
    )
    register(
        "bce-ns",
        d_loss=bce_d_loss,
        g_loss=bce_ns_g_loss,
        description="non-saturating BCE: G minimises -log D(G(z))",
        paper=GOODFELLOW,
    )
