"""The divergence guard: NaN/Inf losses are caught at the step they happen, without making
every step wait for the device.

Each step only keeps a reference to its two loss scalars (no device work, no host sync). At
the loop's sync points (log, sample and checkpoint steps, a stop request, the end)
:meth:`DivergenceGuard.check` stacks them and moves them to the host once, and looks for the
first non-finite pair, so the error names the exact step and losses even though it is noticed
up to ``log_every`` steps later. Nothing is written between a divergence and its
detection (every write happens at a sync point, after the check), and checkpoints also refuse
non-finite weights (:meth:`Trainer.save_checkpoint`), so no good file is replaced by NaNs.

With several processes the verdict (and any stop request, see :mod:`ganzoo.train.signals`) is
all-reduced at each sync point, so every process stops at the same step instead of some
waiting forever in a collective.

On divergence the run stops: it does not roll back and lower the learning rate by itself,
since a run that silently changed its own hyper-parameters would no longer match its
config.json, and a resume would replay the same steps and diverge again.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.distributed as dist

from ganzoo.errors import Diverged
from ganzoo.store.checkpoint import describe_last_good
from ganzoo.train.distributed import DistContext


class DivergenceGuard:
    """Pending (step, D loss, G loss) device scalars, checked in one transfer."""

    def __init__(self, max_pending: int = 1000) -> None:
        self.max_pending = max_pending
        self.pending: list[tuple[int, torch.Tensor, torch.Tensor]] = []

    def observe(self, step: int, d_loss: torch.Tensor, g_loss: torch.Tensor) -> bool:
        """Remember one step's losses; True when enough are pending that :meth:`check`
        should run now (only when nothing else syncs for ``max_pending`` steps)."""
        self.pending.append((step, d_loss.detach(), g_loss.detach()))
        return len(self.pending) >= self.max_pending

    def first_bad(self) -> tuple[int, float, float] | None:
        """(step, D loss, G loss) of the first non-finite step since the last check (syncs)."""
        pending, self.pending = self.pending, []
        if not pending:
            return None
        values = torch.stack([x for _, d, g in pending for x in (d, g)]).float().tolist()
        for i, (step, _, _) in enumerate(pending):
            d, g = values[2 * i], values[2 * i + 1]
            if not (math.isfinite(d) and math.isfinite(g)):
                return step, d, g
        return None

    def check(self, ctx: DistContext, device: torch.device, stop_requested: bool,
              lr: str, last_good: Path | None) -> bool:
        """The sync point: raise :class:`Diverged` if any process saw a non-finite loss since
        the last check; return True if any process was asked to stop (one all-reduce for
        both when there are several processes)."""
        bad = self.first_bad()
        elsewhere = False
        if ctx.enabled:
            flags = torch.tensor([float(bad is not None), float(stop_requested)], device=device)
            dist.all_reduce(flags, op=dist.ReduceOp.MAX)
            any_bad, any_stop = flags.tolist()
            elsewhere, stop_requested = bool(any_bad) and bad is None, bool(any_stop)
        if elsewhere:
            raise Diverged("training diverged in another process (a NaN/Inf loss); see the "
                           "first process's message")
        if bad is not None:
            step, d, g = bad
            kept = describe_last_good(last_good)
            raise Diverged(
                f"training diverged at step {step}: D loss {d}, G loss {g} (NaN/Inf). Nothing "
                f"after it was saved; {kept}. Lower the learning rate ({lr}) or change the "
                "loss, and start a new run (resuming would repeat the same steps)"
            )
        return stop_requested
