"""The one training core: every recipe trains through :func:`ganzoo.train.loop.train`."""

from ganzoo.train.loop import Trainer, train

__all__ = ["Trainer", "train"]
