"""Datasets as decoded uint8 tensors held in memory, and the loaders that produce them."""

from ganzoo.data.dataset import ImageData, resize_images
from ganzoo.data.loaders import load_data, load_folder, load_idx_pair, load_npz
from ganzoo.data.stream import BatchStream, check_batch_fits

__all__ = [
    "BatchStream",
    "ImageData",
    "check_batch_fits",
    "load_data",
    "load_folder",
    "load_idx_pair",
    "load_npz",
    "resize_images",
]
