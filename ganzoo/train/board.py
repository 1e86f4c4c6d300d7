"""TensorBoard event files for a run (``ganzoo train --tensorboard``, ``train.tensorboard``).

Everything the run logs to ``metrics.jsonl`` also goes to ``RUN/tensorboard``: the losses,
regularizer values, img/s and learning rates of each log line, every score of an in-run
evaluation (named by its key, e.g. ``eval/fd-fmnist``), the sample grid of each sample step,
and the resolved recipe as text. ``tensorboard`` is an optional extra, imported only here.

A resumed run writes a new event file into the same folder whose first event tells readers
to drop everything logged at or after the resumed step (TensorBoard's ``purge_step``), so
the steps a crash logged past its last checkpoint are not shown twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.errors import GanzooError
from ganzoo.images import make_grid, to_uint8

FOLDER = "tensorboard"
NOT_SCALARS = {"step", "time", "progress"}


def _summary_writer() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch raises it when the tensorboard package is missing
        raise GanzooError("train.tensorboard needs the tensorboard package: pip install "
                          "'ganzoo[tensorboard]' (or pip install tensorboard), or drop "
                          "--tensorboard") from exc
    return SummaryWriter


def check_available() -> None:
    """Fail before training starts when TensorBoard logging is asked for but not installed."""
    _summary_writer()


class Board:
    """One run's TensorBoard writer (the main process only)."""

    def __init__(self, run_dir: Path, start_step: int, recipe: dict[str, Any]) -> None:
        writer = _summary_writer()
        self.folder = Path(run_dir) / FOLDER
        self.writer = writer(str(self.folder), purge_step=start_step + 1 if start_step else None,
                             flush_secs=30)
        if not start_step:
            self.writer.add_text("recipe", "```\n" + json.dumps(recipe, indent=2) + "\n```", 0)

    def scalars(self, record: dict[str, Any]) -> None:
        """The numbers of a ``metrics.jsonl`` record, at its step (``train/d_loss``, ...)."""
        step = int(record["step"])
        scores = record.get("eval")
        if isinstance(scores, dict):  # an evaluation record
            for key, value in scores.items():
                if isinstance(value, (int, float)) and not key.endswith("-std"):
                    self.writer.add_scalar(f"eval/{key}", value, step)
            return
        for key, value in record.items():
            if key not in NOT_SCALARS and isinstance(value, (int, float)):
                self.writer.add_scalar(f"train/{key}", value, step)

    def grid(self, step: int, images: np.ndarray) -> None:
        """The sample grid (float NCHW in [-1, 1]) as an image at ``step``."""
        grid = make_grid(to_uint8(images))
        self.writer.add_image("samples", grid, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()
