"""The shipped Fashion-MNIST classifier (see :mod:`ganzoo.metrics.networks` for its recipe
and provenance): ``ganzoo eval``'s offline default."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ganzoo.errors import GanzooError
from ganzoo.metrics.networks import check_file, prepare_images

FMNIST_WEIGHTS_PATH = Path(__file__).with_name("weights") / "fmnist.safetensors"
FMNIST_WEIGHTS_SHA256 = "78fcc5fcaaa804fd40574e13331490116bf9eb31ead958e6810cb83ea87562e7"
FMNIST_ARCH = "ganzoo-fmnist-cnn-v1"


# --------------------------------------------------------------------------------------------
# Fashion-MNIST classifier
# --------------------------------------------------------------------------------------------


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class FMNISTClassifier(nn.Module):
    """Small CNN: three conv-BN-ReLU-pool stages (28→14→7→3), a 128-d embedding, 10 logits.

    ``features`` is the 128-d post-ReLU embedding (the input of the last linear layer), the
    space FD/KD/precision-recall are measured in.  Images at any resolution are resized to
    28×28 with an antialiased bilinear filter, so 32- or 64-px generators can be scored.
    """

    native_size = 28
    feature_dim = 128
    num_classes = 10

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_bn_relu(1, 32),
            nn.MaxPool2d(2),
            _conv_bn_relu(32, 48),
            nn.MaxPool2d(2),
            _conv_bn_relu(48, 64),
            nn.MaxPool2d(2),
        )
        self.embed = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 3 * 3, self.feature_dim), nn.ReLU(inplace=True)
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(self.feature_dim, self.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 1, H, W]`` images in [-1, 1] → ``[N, 128]`` embedding."""
        x = prepare_images(x, 1, self.native_size, antialias=True)
        return self.embed(self.body(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 1, H, W]`` images in [-1, 1] → ``[N, 10]`` class logits."""
        return self.head(self.dropout(self.features(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)


def load_fmnist_extractor(
    path: str | os.PathLike[str] | None = None,
    *,
    expected_sha256: str = FMNIST_WEIGHTS_SHA256,
    device: str | torch.device = "cpu",
) -> FMNISTClassifier:
    """Load the shipped Fashion-MNIST classifier in eval mode, after checking its sha256.

    The hash pins the exact weights metric numbers were produced with; a mismatch means the
    install is damaged, and silently scoring with other weights would make numbers
    incomparable.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    weights = Path(path) if path is not None else FMNIST_WEIGHTS_PATH
    check_file(
        weights,
        expected_sha256,
        "Fashion-MNIST classifier weights",
        "Reinstall ganzoo, or retrain with scripts/train_fmnist_classifier.py and pass the "
        "new file's path and sha256.",
    )
    with safe_open(str(weights), framework="pt") as fh:
        meta = fh.metadata() or {}
    if meta.get("arch") != FMNIST_ARCH:
        raise GanzooError(
            f"{weights} holds weights for arch {meta.get('arch')!r}, not {FMNIST_ARCH!r}; "
            "pass a file written by scripts/train_fmnist_classifier.py."
        )
    model = FMNISTClassifier()
    model.load_state_dict(load_file(str(weights)))
    return model.eval().requires_grad_(False).to(device)
