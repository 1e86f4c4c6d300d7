"""Built-in datasets: the embedded Fashion-MNIST test split, and the full set when installed."""

from __future__ import annotations

from pathlib import Path

import torch

from ganzoo.data import ImageData, load_idx_pair, resize_images
from ganzoo.errors import GanzooError
from ganzoo.hooks import hookimpl
from ganzoo.hooktypes import RegisterDataset

EMBEDDED = Path(__file__).resolve().parent.parent / "data" / "fashion_mnist"
# Debian's dataset-fashion-mnist package installs the full set here.
SYSTEM = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]


def _split(folder: Path, prefix: str) -> ImageData:
    return load_idx_pair(folder / f"{prefix}-images-idx3-ubyte.gz",
                         folder / f"{prefix}-labels-idx1-ubyte.gz")


def load_embedded(resolution: int) -> ImageData:
    data = _split(EMBEDDED, "t10k")
    return ImageData(resize_images(data.images, resolution), data.labels, CLASSES,
                     source="fashion-mnist (embedded test split)")


def load_full(resolution: int) -> ImageData:
    if not (SYSTEM / "train-images-idx3-ubyte.gz").is_file():
        raise GanzooError(f"the full Fashion-MNIST is not installed at {SYSTEM}: install it with "
                          "'apt-get install dataset-fashion-mnist', or pass --data PATH")
    parts = [_split(SYSTEM, "train"), _split(SYSTEM, "t10k")]
    images = resize_images(torch.cat([p.images for p in parts]), resolution)
    labels = torch.cat([p.labels for p in parts])
    return ImageData(images, labels, CLASSES, source=f"fashion-mnist-full ({SYSTEM})")


@hookimpl
def register_datasets(register: RegisterDataset) -> None:
    register("fashion-mnist", load=load_embedded,
             description="Fashion-MNIST test split, 10k 28x28 images, shipped with ganzoo (MIT)")
    register("fashion-mnist-full", load=load_full,
             description="all 70k Fashion-MNIST images from Debian's dataset-fashion-mnist")
