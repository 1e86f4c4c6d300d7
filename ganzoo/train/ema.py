"""The exponential moving average of the generator, used for samples, evaluation and export.

Its length is set in images, as in StyleGAN2 (``ema_kimg`` with ``ema_rampup``): the average's
half-life is ``ema_kimg`` thousand images, but never more than ``ema_rampup`` times the images
seen so far, so it helps after 2,000 steps as well as after 100,000. A fixed per-step
``ema_decay`` (ganzoo's earlier rule) still works when a recipe sets one.

BatchNorm statistics belong to the weights that produced them, so the EMA generator does not
copy G's: :func:`recompute_batchnorm` measures its own, with the averaged weights, before
every sample grid, evaluation and checkpoint.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ganzoo.devices import FastPath

#: latents drawn to measure the EMA generator's BatchNorm statistics (a fixed seeded set)
BN_STAT_IMAGES = 1024
BN_STAT_BATCH = 128


def ema_beta(images_seen: int, batch_images: int, ema_kimg: float,
             ema_rampup: float | None) -> float:
    """The per-step decay for a half-life of ``ema_kimg`` thousand images (ramped up)."""
    ema_images = ema_kimg * 1000.0
    if ema_rampup is not None:
        ema_images = min(ema_images, images_seen * ema_rampup)
    if ema_images <= 0:
        return 0.0
    return 0.5 ** (batch_images / ema_images)


def ema_decay_at(step: int, decay: float) -> float:
    """A fixed decay with a warm-up: the average over the steps so far until ``decay``."""
    return min(decay, (1.0 + step) / (10.0 + step))


def _is_batchnorm(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.batchnorm._BatchNorm)


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """Move ``ema``'s parameters towards ``model``'s; copy the other buffers (a spectral norm's
    power-iteration vectors, a growing model's stage) but not BatchNorm statistics."""
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - decay)
    for m_ema, m in zip(ema.modules(), model.modules()):
        if _is_batchnorm(m_ema):
            continue
        for b_ema, b in zip(m_ema.buffers(recurse=False), m.buffers(recurse=False)):
            b_ema.copy_(b)


def has_batchnorm(model: nn.Module) -> bool:
    return any(_is_batchnorm(m) for m in model.modules())


@torch.no_grad()
def recompute_batchnorm(G: nn.Module, nz: int, num_classes: int, device: torch.device,
                        fast: FastPath | None = None, seed: int = 0,
                        images: int = BN_STAT_IMAGES, batch: int = BN_STAT_BATCH) -> None:
    """Set every BatchNorm's running statistics of ``G`` to the mean and variance over a fixed
    seeded set of ``images`` samples of ``G`` itself ("standing statistics"); G stays in eval
    mode afterwards. A G without BatchNorm is left as it is."""
    layers = [m for m in G.modules() if _is_batchnorm(m)]
    if not layers:
        return
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
    gen = torch.Generator(device).manual_seed(seed)
    G.train()
    try:
        for start in range(0, images, batch):
            n = min(batch, images - start)
            z = torch.randn(n, nz, generator=gen, device=device)
            labels = (torch.randint(0, num_classes, (n,), generator=gen, device=device)
                      if num_classes else None)
            with fast.autocast(device) if fast else contextlib.nullcontext():
                G(z, labels)
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        G.eval()
