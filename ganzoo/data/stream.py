"""An endless, seeded, resumable stream of batches from an in-memory dataset."""

from __future__ import annotations

import torch

from ganzoo.data.dataset import ImageData
from ganzoo.errors import GanzooError


def check_batch_fits(data: ImageData, batch: int, world: int = 1) -> None:
    """A dataset must hold at least one global batch (``batch`` per process): ganzoo refuses
    rather than training with a smaller batch than the config says, because config.json,
    the learning rate and the EMA length all assume the batch it records."""
    if len(data) >= batch * world:
        return
    where = f" ({batch} per process x {world})" if world > 1 else ""
    most = len(data) // world
    fix = (f"pass --batch {most} or less (or --set train.batch=N)" if most else
           f"use fewer than {world} processes")
    raise GanzooError(f"{data.source or 'the dataset'} has {len(data)} images, fewer than one "
                      f"batch of {batch * world}{where}; {fix}, or add images")


class BatchStream:
    """Shuffled batches in [-1, 1]; the order depends only on (seed, position), so resuming
    from ``position`` replays exactly what an uninterrupted run would have seen.

    ``rank``/``world`` shard each global batch across processes (DDP): every process walks the
    same global order and takes its own slice of each batch.
    """

    def __init__(self, data: ImageData, batch: int, seed: int, device: torch.device | str = "cpu",
                 rank: int = 0, world: int = 1) -> None:
        check_batch_fits(data, batch, world)
        self.images = data.images.to(device)
        self.labels = data.labels.to(device) if data.labels is not None else None
        self.batch, self.seed, self.rank, self.world = batch, seed, rank, world
        self.per_epoch = len(data) // (batch * world)
        self.position = 0  # global batches consumed
        self._epoch = -1
        self._order: torch.Tensor | None = None

    def _order_for(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._order = torch.randperm(len(self.images), generator=g).to(self.images.device)
            self._epoch = epoch
        assert self._order is not None
        return self._order

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        epoch, index = divmod(self.position, self.per_epoch)
        self.position += 1
        start = (index * self.world + self.rank) * self.batch
        idx = self._order_for(epoch)[start:start + self.batch]
        x = self.images[idx].float().div_(127.5).sub_(1.0)
        y = self.labels[idx] if self.labels is not None else None
        return x, y
