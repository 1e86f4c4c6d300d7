"""Class conditioning: conditional BatchNorm for generators and the projection term for
discriminators (Miyato & Koyama 2018, cGANs with Projection Discriminator)."""

from __future__ import annotations

import torch
from torch import nn


def require_labels(labels: torch.Tensor | None, who: str) -> torch.Tensor:
    if labels is None:
        raise ValueError(f"{who} is class-conditional: pass labels, an int64 tensor [N]")
    return labels


def embed_labels(table: nn.Embedding, labels: torch.Tensor) -> torch.Tensor:
    """``table``'s rows for int labels ``[N]``, or their mix for float class weights
    ``[N, num_classes]`` (``weights @ table.weight``): a class walk blends embeddings this
    way, and a one-hot row gives exactly its class's row.

    The mix runs in float64, which neither autocast (bf16 sampling) nor TF32 matmuls round,
    so a one-hot row returns the very row a lookup does.
    """
    if not labels.is_floating_point():
        return table(labels)
    if labels.dim() != 2 or labels.shape[1] != table.num_embeddings:
        raise ValueError(f"class weights must be a float tensor [N, {table.num_embeddings}], "
                         f"got {list(labels.shape)}")
    return (labels.double() @ table.weight.double()).to(table.weight.dtype)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (or mixed, for class weights:
    :func:`embed_labels`); with ``num_classes=0`` it is an ordinary affine BatchNorm2d, so one
    model definition serves both cases."""

    def __init__(self, num_features: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(num_features, affine=num_classes == 0)
        if num_classes:
            self.gamma = nn.Embedding(num_classes, num_features)
            self.beta = nn.Embedding(num_classes, num_features)
            nn.init.ones_(self.gamma.weight)
            nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.bn(x)
        if not self.num_classes:
            return x
        labels = require_labels(labels, "ConditionalBatchNorm2d")
        gamma, beta = embed_labels(self.gamma, labels), embed_labels(self.beta, labels)
        return x * gamma[:, :, None, None] + beta[:, :, None, None]


class ClassProjection(nn.Module):
    """The projection discriminator's class term ``<embed(y), phi(x)>``, added to D's
    unconditional logit."""

    def __init__(self, num_classes: int, features: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, features)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        labels = require_labels(labels, "the projection discriminator")
        return (self.embed(labels) * features).sum(dim=1)
