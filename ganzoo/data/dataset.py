"""The in-memory dataset every loader produces."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class ImageData:
    """Decoded images ``[N, C, H, W]`` uint8 with optional int64 labels ``[N]``."""

    images: torch.Tensor
    labels: torch.Tensor | None = None
    class_names: list[str] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError("ImageData.images must be a uint8 tensor [N, C, H, W]")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError("ImageData.labels must have one label per image")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def resolution(self) -> int:
        return self.images.shape[-1]

    @property
    def num_classes(self) -> int:
        if self.labels is None:
            return 0
        return max(len(self.class_names), int(self.labels.max()) + 1)


def resize_images(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Square uint8 images resized (antialiased bilinear) to ``resolution``; batched for memory."""
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    out = []
    for chunk in images.split(2048):
        x = F.interpolate(chunk.float(), size=(resolution, resolution), mode="bilinear",
                          antialias=True, align_corners=False)
        out.append(x.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)
