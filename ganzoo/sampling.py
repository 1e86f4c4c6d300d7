"""The one way ganzoo draws images from a generator: seeded latents from the shared sampler
(:mod:`ganzoo.latents`), in batches, in eval mode. ``ganzoo sample``, evaluation and in-run
scoring all call :func:`generate_images`, so the same seed gives the same images everywhere
(and the same as ``ganzoo generate`` on an export)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ganzoo.devices import FastPath
from ganzoo.latents import class_labels, sample_latents


def generate_images(G: nn.Module, n: int, *, nz: int, num_classes: int = 0, seed: int = 0,
                    class_index: int | None = None, truncation: float | None = None,
                    batch: int = 250, device: str | torch.device = "cpu",
                    fast: FastPath | None = None,
                    postprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
                    progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """``n`` samples of ``G`` on the CPU: float32 in [-1, 1], or what ``postprocess`` makes of
    each batch (e.g. uint8). Conditional generators get ``class_index``, or the classes in turn;
    ``truncation`` psi keeps every latent element within [-psi, psi].

    ``fast`` runs G under its autocast (bf16 sampling); memory stays flat as ``n`` grows.
    ``progress`` is called with the number of images of each batch once it is drawn.
    """
    return generate_from(G, sample_latents(n, nz, seed, truncation),
                         class_labels(n, num_classes, class_index), batch=batch,
                         device=device, fast=fast, postprocess=postprocess, progress=progress)


@torch.no_grad()
def generate_from(G: nn.Module, z: np.ndarray, labels: np.ndarray | None = None, *,
                  batch: int = 250, device: str | torch.device = "cpu",
                  fast: FastPath | None = None,
                  postprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
                  progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """:func:`generate_images` for given latents ``z`` ``[N, nz]`` (and ``labels`` ``[N]``)."""
    device = torch.device(device)
    was_training = G.training
    G.eval()
    out = []
    try:
        for start in range(0, len(z), batch):
            zb = torch.from_numpy(z[start:start + batch]).to(device)
            lb = (None if labels is None
                  else torch.from_numpy(labels[start:start + batch]).to(device))
            with fast.autocast(device) if fast else contextlib.nullcontext():
                images = G(zb, lb).float()
            out.append((postprocess(images) if postprocess else images).cpu())
            if progress is not None:
                progress(len(zb))
    finally:
        G.train(was_training)
    return torch.cat(out)
