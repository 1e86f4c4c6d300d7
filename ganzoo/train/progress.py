"""A live progress bar on a terminal; sparse plain lines when output is a file or a pipe."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, total: int, start: int, enabled: bool = True) -> None:
        self.total, self.start = total, start
        self.enabled = enabled
        self.console = Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.started = self.last_line = time.monotonic()
        self._bar = None
        if self.live:
            self._bar = RichProgress(
                TextColumn("step {task.completed}/{task.total}"),
                BarColumn(),
                TextColumn("D {task.fields[d]:.3f}  G {task.fields[g]:.3f}  "
                           "{task.fields[ips]:.0f} img/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._bar.start()
            self._task = self._bar.add_task("train", total=total, completed=start,
                                            d=float("nan"), g=float("nan"), ips=0.0)

    def update(self, step: int, d: float, g: float, img_s: float) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=step, d=d, g=g, ips=img_s)
            return
        now = time.monotonic()
        if now - self.last_line >= 10 or step == self.total:
            self.last_line = now
            print(f"step {step}/{self.total}  D {d:.3f}  G {g:.3f}  {img_s:.0f} img/s  "
                  f"ETA {self.eta(step, now)}", file=sys.stderr, flush=True)

    def eta(self, step: int, now: float) -> str:
        """Time left at the average pace since this process started, as H:MM:SS."""
        done = step - self.start
        if done <= 0:
            return "-:--:--"
        seconds = round((self.total - step) * (now - self.started) / done)
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
