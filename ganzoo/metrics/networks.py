"""Feature extractors for the metrics: a shipped Fashion-MNIST classifier and FID's Inception.

Metrics need a fixed network that maps images to features (FID, KID, precision/recall) and
class probabilities (IS).  Two are built in:

* ``FMNISTClassifier`` — a small CNN trained on the Fashion-MNIST train split, whose weights
  ship inside the package (``weights/fmnist.safetensors``), so ``ganzoo eval`` works offline
  on the default data set.  Its numbers are only comparable with other runs of the same
  weights, never with published FIDs.
* ``FIDInceptionV3`` — the InceptionV3 variant used by pytorch-fid (the TF 2015-12-05 graph
  ported to torch), for numbers comparable with papers.  ganzoo downloads nothing: the user
  names a local copy of ``pt_inception-2015-12-05-6726825d.pth``.

Both take float images in [-1, 1] of shape ``[N, C, H, W]`` at any resolution, resize them
inside to their native size, and expose ``features(x)`` and ``logits(x)``.

Weights are read with safetensors only, never by unpickling: the pytorch-fid ``.pth`` is
checked against its published sha256 prefix and then converted once by the user (the error
says how). The shipped classifier's sha256 is checked before it is read.

Shipped classifier — recipe and provenance (``scripts/train_fmnist_classifier.py``):
    seed 0, 5 epochs over the 60k train split, Adam (max lr 3e-3, OneCycle, 20 % warm-up),
    batch 128, random horizontal flips, 2 CPU threads; ~2 min on 2 idle CPU cores.
    Held-out test accuracy 92.15 % (10k t10k images). 117k parameters, 472 kB.
    sha256 78fcc5fcaaa804fd40574e13331490116bf9eb31ead958e6810cb83ea87562e7
    The file's bytes repeat exactly for the same seed, torch build, CPU and thread count.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F

from ganzoo.errors import GanzooError


class FeatureExtractor(Protocol):
    """What the metrics need from a network; plugins may provide their own."""

    feature_dim: int
    num_classes: int

    def features(self, x: torch.Tensor) -> torch.Tensor: ...

    def logits(self, x: torch.Tensor) -> torch.Tensor: ...


# --------------------------------------------------------------------------------------------
# Shared input handling and file checks
# --------------------------------------------------------------------------------------------


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks so large weight files need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_file(path: Path, expected_sha256: str, what: str, fix: str) -> None:
    expected = expected_sha256.strip().lower()
    if len(expected) < 8 or any(c not in "0123456789abcdef" for c in expected):
        raise GanzooError(
            f"expected_sha256 for {what} must be at least 8 hex digits, got {expected_sha256!r}."
        )
    if not path.is_file():
        raise GanzooError(f"{what} not found at {path}. {fix}")
    actual = file_sha256(path)
    if not actual.startswith(expected):
        raise GanzooError(
            f"{what} at {path} has sha256 {actual}, expected {expected}"
            f"{'…' if len(expected) < 64 else ''}; the file is corrupt, truncated or a different "
            f"file. {fix}"
        )


def prepare_images(x: torch.Tensor, channels: int, size: int, antialias: bool) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise GanzooError(
            f"images must be a float tensor of shape [N, C, H, W] in [-1, 1], got {shape}; "
            "add a batch dimension and convert uint8 images with x / 127.5 - 1."
        )
    if x.shape[1] != channels:
        if channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif channels == 1 and x.shape[1] == 3:
            raise GanzooError(
                "the Fashion-MNIST extractor takes 1-channel images, got 3 channels; "
                "use the Inception extractor for RGB models or convert to grayscale first."
            )
        else:
            raise GanzooError(f"expected {channels}-channel images, got {x.shape[1]} channels.")
    if x.shape[-2:] != (size, size):
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias
        )
    return x
