"""Ctrl-C (SIGINT) and SIGTERM during training: finish the step, save, then exit.

The handler only records the request; the loop notices it at the next step boundary (with
several processes, at the next sync point, where all processes agree), saves a checkpoint of
a whole step and raises :class:`TrainingInterrupted`. Raising from inside the handler instead
would stop mid optimizer step and save a half-updated model. A second signal stops at once,
without saving (the previous checkpoint stays the latest).
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on a signal; ``exit_code`` is the shell's 128 + signal number."""

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = 128 + int(signum)

    def __str__(self) -> str:
        return self.message


class StopRequests:
    """Context manager that turns SIGINT/SIGTERM into a stop request while training.

    Only the main thread can own signal handlers; elsewhere this does nothing (Ctrl-C then
    raises KeyboardInterrupt as usual).
    """

    def __init__(self, announce: bool = True) -> None:
        self.signum: int | None = None
        self.announce = announce
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise TrainingInterrupted(
                f"stopped by a second {signal.Signals(signum).name} without saving; the latest "
                "checkpoint on disk is the one to resume from", signum)
        self.signum = signum
        if self.announce:
            print(f"\n{signal.Signals(signum).name}: finishing this step and saving a checkpoint "
                  "(send it again to stop at once without saving)", file=sys.stderr, flush=True)

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self._previous.clear()
