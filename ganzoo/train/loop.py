"""The training loop shared by every recipe: D step(s), then a G step, then EMA.

Nothing here knows an architecture or a loss: losses and regularizers come from the name table
as pure functions of D's outputs / models / batches. The same loop runs on CPU or GPU, in one
process or many (torchrun), in fp32 or on the bf16/fp16 fast path.
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganzoo.build import build_pair
from ganzoo.components import NameTable
from ganzoo.config import ResolvedRecipe
from ganzoo.data import BatchStream, ImageData
from ganzoo.devices import FastPath, choose_fast_path
from ganzoo.errors import Diverged
from ganzoo.images import save_grid
from ganzoo.nn.augment import augmenting
from ganzoo.store import checkpoint as ckpt
from ganzoo.store.run import append_metrics, trim_metrics
from ganzoo.train.distributed import (
    DistContext,
    average_gradients,
    convert_sync_batchnorm,
    mean_over_processes,
)
from ganzoo.train.ema import ema_beta, ema_decay_at, has_batchnorm, recompute_batchnorm, update_ema
from ganzoo.train.evaluation import TrainingEvaluator
from ganzoo.train.guard import DivergenceGuard
from ganzoo.train.init import InitWeights, apply_init
from ganzoo.train.progress import Progress
from ganzoo.train.signals import StopRequests, TrainingInterrupted
from ganzoo.train.state import restore_trainer, trainer_state

SAMPLE_COUNT = 64


@dataclass
class StepLosses:
    d_loss: torch.Tensor
    g_loss: torch.Tensor


class Trainer:
    """Owns the models, optimizers, data stream and RNG of one run (one process of it)."""

    def __init__(self, recipe: ResolvedRecipe, data: ImageData, run_dir: Path,
                 device: torch.device, *, table: NameTable, ctx: DistContext | None = None,
                 compile: bool = False, fast: FastPath | None = None) -> None:
        """``fast`` is the precision the caller resolved for ``device``; without one, the
        recipe's ``train.precision`` is resolved here."""
        self.recipe, self.run_dir, self.device = recipe, run_dir, device
        self.ctx = ctx or DistContext()
        t = recipe.train
        if self.ctx.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
        self.fast: FastPath = fast or choose_fast_path(t.precision, device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        torch.manual_seed(t.seed)
        self.G, self.D = build_pair(recipe, table)
        memory_format = torch.channels_last if self.fast.channels_last else torch.preserve_format
        self.G.to(device, memory_format=memory_format)
        self.D.to(device, memory_format=memory_format)
        # a copy with plain BatchNorm: its statistics are measured by the main process alone
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        if self.ctx.enabled:
            convert_sync_batchnorm(self.G)
            convert_sync_batchnorm(self.D)
        self._ema_has_bn = has_batchnorm(self.G_ema)
        self._ema_stats_at: int | None = None  # the step its BatchNorm statistics are for
        # Compiled callables for the hot path; state always lives in the plain modules.
        self.g_fwd = torch.compile(self.G) if compile else self.G
        self.d_fwd = augmenting(torch.compile(self.D) if compile else self.D, t.augment)

        self.loss = table.get("loss", recipe.loss).with_params(recipe.loss_params)
        self.regularizers = []
        for spec in recipe.regularizers:
            reg = table.get("regularizer", spec.name)
            weight = reg.weight if spec.weight is None else spec.weight
            interval = reg.interval if spec.interval is None else spec.interval
            if weight:  # weight 0 turns a regularizer (e.g. a loss's companion) off
                self.regularizers.append((spec.name.split(":")[-1], reg, weight, interval))
        self.reg_values: dict[str, torch.Tensor] = {}  # each one's last value (for the log)
        adam = {"betas": t.betas, **({"fused": True} if self.fast.fused_adam else {})}
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=t.lr, **adam)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=t.lr_d or t.lr, **adam)
        use_scaler = self.fast.precision == "fp16"
        self.scaler_g = torch.amp.GradScaler(device.type, enabled=use_scaler)
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=use_scaler)

        self.stream = BatchStream(data, t.batch, t.seed, device, self.ctx.rank, self.ctx.world)
        self.num_classes = recipe.generator.num_classes
        self.nz = recipe.generator.nz
        self.z_gen = torch.Generator(device).manual_seed(t.seed + 1)
        sample_gen = torch.Generator(device).manual_seed(t.seed + 2)
        self.sample_z = torch.randn(SAMPLE_COUNT, self.nz, generator=sample_gen, device=device)
        self.sample_labels = (torch.arange(SAMPLE_COUNT, device=device) % self.num_classes
                              if self.num_classes else None)
        self.step = 0
        self.d_steps = 0
        self.reg_scale = 1.0  # train.schedule's factor on every regularizer weight
        self.schedule = _find_schedule(self.G, self.D)
        self.progress: dict[str, Any] | None = None
        # called as evaluator(trainer) every train.eval_every steps (set by train())
        self.evaluator: Any = None
        self.board: Any = None  # a ganzoo.train.board.Board with train.tensorboard (set by train())
        self.last_checkpoint: Path | None = None

    # -- one step --------------------------------------------------------------------------

    def _latents(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This process's slice of the global batch's latents (every process draws them all,
        so K processes see exactly what one process with K times the batch would)."""
        total = n * self.ctx.world
        z = torch.randn(total, self.nz, generator=self.z_gen, device=self.device)
        labels = (torch.randint(0, self.num_classes, (total,), generator=self.z_gen,
                                device=self.device) if self.num_classes else None)
        part = slice(self.ctx.rank * n, (self.ctx.rank + 1) * n)
        return z[part], (labels[part] if labels is not None else None)

    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        real, labels = self.stream.next()
        if self.fast.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        return real, (labels if self.num_classes else None)

    def _d_loss(self, real, real_labels, fake, fake_labels) -> torch.Tensor:
        with self.fast.autocast(self.device):
            d_real = self.d_fwd(real, real_labels)
            d_fake = self.d_fwd(fake, fake_labels)
        loss = self.loss.d_loss(d_real.float(), d_fake.float())
        for name, reg, weight, interval in self.regularizers:
            if self.d_steps % interval == 0:
                value = reg.fn(self.D, real, fake, real_labels)
                self.reg_values[name] = value.detach()
                loss = loss + weight * self.reg_scale * interval * value
        return loss

    def _apply(self, optimizer, scaler, module) -> None:
        average_gradients(module, self.ctx)
        scaler.step(optimizer)
        scaler.update()

    def advance_schedule(self) -> None:
        """Growing architectures: the state the schedule gives for the real images shown so far
        (global batches of D steps, restored on resume) goes to every model's
        ``set_progress``."""
        if self.schedule is None:
            return
        images = self.d_steps * self.recipe.train.batch * self.ctx.world
        self.progress = dict(self.schedule(images))
        for model in (self.G, self.D, self.G_ema):
            if callable(getattr(type(model), "set_progress", None)):
                model.set_progress(self.progress)

    def apply_schedule(self) -> None:
        """``train.schedule=cosine``: this step's learning rates and regularizer weights."""
        t = self.recipe.train
        if t.schedule != "cosine":
            return
        done = min(1.0, self.step / max(1, t.steps))
        wave = 0.5 * (1.0 + math.cos(math.pi * done))
        lr_scale = t.lr_final + (1.0 - t.lr_final) * wave
        for opt, lr in ((self.opt_g, t.lr), (self.opt_d, t.lr_d or t.lr)):
            for group in opt.param_groups:
                group["lr"] = lr * lr_scale
        self.reg_scale = t.reg_final + (1.0 - t.reg_final) * wave

    def train_step(self) -> StepLosses:
        """``n_critic`` D updates, then one G update (reusing the last D step's fakes when the
        batch is not split for gradient accumulation)."""
        t, chunks = self.recipe.train, self.recipe.train.accumulate
        self.advance_schedule()
        self.apply_schedule()
        self.D.requires_grad_(True)
        for i in range(t.n_critic):
            reuse = i == t.n_critic - 1 and chunks == 1
            real, real_labels = self._real_batch()
            z, fake_labels = self._latents(real.shape[0])
            self.d_steps += 1
            self.opt_d.zero_grad(set_to_none=True)
            d_total = torch.zeros((), device=self.device)
            for part in _chunks(chunks, real, real_labels, z, fake_labels):
                real_c, real_labels_c, z_c, fake_labels_c = part
                with self.fast.autocast(self.device), torch.set_grad_enabled(reuse):
                    fake = self.g_fwd(z_c, fake_labels_c)
                d_loss = self._d_loss(real_c, real_labels_c, fake.detach(), fake_labels_c)
                self.scaler_d.scale(d_loss / chunks).backward()
                d_total += d_loss.detach() / chunks
            self._apply(self.opt_d, self.scaler_d, self.D)
            if self.loss.after_d_step is not None:
                self.loss.after_d_step(self.D)

        self.D.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        g_total = torch.zeros((), device=self.device)
        for part in _chunks(chunks, real, real_labels, z, fake_labels):
            real_c, real_labels_c, z_c, fake_labels_c = part
            with self.fast.autocast(self.device):
                if not reuse:
                    fake = self.g_fwd(z_c, fake_labels_c)
                g_fake = self.d_fwd(fake, fake_labels_c)
                g_real = (self.d_fwd(real_c, real_labels_c) if self.loss.uses_real_in_g
                          else None)
            g_loss = self.loss.g_loss(g_fake.float(), None if g_real is None else g_real.float())
            self.scaler_g.scale(g_loss / chunks).backward()
            g_total += g_loss.detach() / chunks
        self._apply(self.opt_g, self.scaler_g, self.G)
        if self.ctx.is_main:
            update_ema(self.G_ema, self.G, self._ema_decay())
            self._ema_stats_at = None
        self.step += 1
        return StepLosses(d_total, g_total)

    def _ema_decay(self) -> float:
        t = self.recipe.train
        if t.ema_decay is not None:
            return ema_decay_at(self.step, t.ema_decay)
        batch = t.batch * self.ctx.world
        return ema_beta(self.step * batch, batch, t.ema_kimg, t.ema_rampup)

    def refresh_ema(self) -> None:
        """Give the EMA generator BatchNorm statistics of its own weights (once per step)."""
        if self._ema_stats_at == self.step or not self._ema_has_bn:
            return
        recompute_batchnorm(self.G_ema, self.nz, self.num_classes, self.device, self.fast,
                            seed=self.recipe.train.seed + 3)
        self._ema_stats_at = self.step

    # -- outputs ---------------------------------------------------------------------------

    @torch.no_grad()
    def save_samples(self) -> Path:
        self.refresh_ema()
        with self.fast.autocast(self.device):
            images = self.G_ema(self.sample_z, self.sample_labels)
        path = self.run_dir / "samples" / f"step-{self.step:07d}.png"
        pixels = images.float().cpu().numpy()
        if self.board is not None:
            self.board.grid(self.step, pixels)
        return save_grid(pixels, path)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        """Everything a checkpoint holds (see :mod:`ganzoo.train.state`)."""
        return trainer_state(self)

    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint (the main process only: one writer per run); a state holding
        NaN/Inf is refused, so no good checkpoint is ever replaced by a diverged one."""
        if not self.ctx.is_main:
            return None
        self.refresh_ema()
        tensors, meta = self.state()
        bad = ckpt.first_non_finite(tensors)
        if bad is not None:
            kept = ckpt.describe_last_good(self.last_checkpoint)
            raise Diverged(f"training diverged by step {self.step}: {bad} holds NaN/Inf, so no "
                           f"checkpoint was written ({kept}); lower the learning rate and start "
                           "a new run")
        self.last_checkpoint = ckpt.save_checkpoint(self.run_dir, self.step, tensors, meta,
                                                    keep=self.recipe.train.keep_checkpoints)
        return self.last_checkpoint

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, str],
                   where: str) -> None:
        """Restore everything :meth:`state` saved; a file that does not fit is a GanzooError."""
        restore_trainer(self, tensors, meta, where)

    # -- the loop --------------------------------------------------------------------------

    def fit(self, steps: int, show_progress: bool = True) -> None:
        """Train until ``self.step == steps``, logging, sampling and checkpointing on the way.

        A NaN/Inf loss stops the run (:mod:`ganzoo.train.guard`); SIGINT/SIGTERM save a
        checkpoint at the next step boundary, then raise :class:`TrainingInterrupted`.
        """
        t = self.recipe.train
        main = self.ctx.is_main
        progress = Progress(total=steps, start=self.step, enabled=show_progress and main)
        window_start, window_step = time.perf_counter(), self.step
        guard, stopping = DivergenceGuard(), False
        lr = f"train.lr={t.lr}" + (f", train.lr_d={t.lr_d}" if t.lr_d else "")
        with StopRequests(announce=main) as stop, contextlib.closing(progress):
            while self.step < steps and not stopping:
                losses = self.train_step()
                full = guard.observe(self.step, losses.d_loss, losses.g_loss)
                at_end = self.step == steps
                log = self.step % t.log_every == 0 or at_end
                sample = self.step % t.sample_every == 0 or at_end
                save = self.step % t.checkpoint_every == 0 or at_end
                evaluate = bool(t.eval_every) and self.step % t.eval_every == 0
                if (log or sample or save or evaluate or full
                        or (stop.requested and not self.ctx.enabled)):
                    # the sync point: nothing is written before the guard has looked
                    stopping = guard.check(self.ctx, self.device, stop.requested, lr,
                                           self.last_checkpoint)
                if log:
                    both = mean_over_processes(torch.stack([losses.d_loss, losses.g_loss]),
                                               self.ctx)
                    d, g = both.tolist()  # syncs, as does the guard's check above
                    now = time.perf_counter()
                    images = (self.step - window_step) * t.batch * t.n_critic * self.ctx.world
                    img_s = images / (now - window_start)
                    window_start, window_step = now, self.step
                    if main:
                        record = {"step": self.step, "d_loss": d, "g_loss": g,
                                  **self._log_extras(), "img_per_s": round(img_s, 1),
                                  "time": round(time.time(), 3)}
                        if self.progress is not None:
                            record["progress"] = self.progress
                        append_metrics(self.run_dir, record)
                        if self.board is not None:
                            self.board.scalars(record)
                    progress.update(self.step, d, g, img_s)
                if main and sample:
                    self.save_samples()
                if save or stopping:
                    self.save_checkpoint()
                if evaluate and self.evaluator is not None:
                    self.evaluator(self)
        if stopping:
            saved = self.last_checkpoint if main else "a checkpoint (by the first process)"
            raise TrainingInterrupted(
                f"interrupted by {stop.name} at step {self.step}: saved {saved}; continue with "
                f"'ganzoo train --resume {self.run_dir}'", stop.signum or 2)


    def _log_extras(self) -> dict[str, float]:
        """This process's learning rates and each regularizer's last (unweighted) value."""
        extras = {"lr_g": self.opt_g.param_groups[0]["lr"],
                  "lr_d": self.opt_d.param_groups[0]["lr"]}
        if self.reg_values:
            values = torch.stack(list(self.reg_values.values())).float().tolist()
            extras.update({f"reg_{name}": v for name, v in zip(self.reg_values, values,
                                                                strict=True)})
        return extras


def _chunks(n: int, *tensors: torch.Tensor | None):
    """Split each tensor of a batch into ``n`` equal parts (``None`` stays ``None``)."""
    if n == 1:
        yield tensors
        return
    parts = [t.chunk(n) if t is not None else [None] * n for t in tensors]
    yield from zip(*parts)


def _find_schedule(G: torch.nn.Module, D: torch.nn.Module) -> Any:
    """The ``schedule(images_seen) -> dict`` of the first of G, D that declares one, else None."""
    for model in (G, D):
        if callable(getattr(type(model), "schedule", None)):
            return model.schedule
    return None


def train(recipe: ResolvedRecipe, data: ImageData, run_dir: Path, device: torch.device, *,
          table: NameTable, steps: int | None = None, resume: bool = False,
          show_progress: bool = True, ctx: DistContext | None = None, compile: bool = False,
          fast: FastPath | None = None, init: InitWeights | None = None) -> Trainer:
    """Train ``recipe`` on ``data`` in ``run_dir`` (resuming from its latest checkpoint;
    a new run's models start from ``init`` when given)."""
    trainer = Trainer(recipe, data, run_dir, device, table=table, ctx=ctx, compile=compile,
                      fast=fast)
    if init is not None and not resume:
        apply_init(trainer.G, trainer.D, trainer.G_ema, init)
    if recipe.train.eval_every and trainer.ctx.is_main:
        trainer.evaluator = TrainingEvaluator(data, table=table, n=recipe.train.eval_n,
                                              extractor=recipe.train.eval_extractor,
                                              seed=recipe.train.seed, device=device)
    if resume and ckpt.list_checkpoints(run_dir):
        path, tensors, meta = ckpt.latest_checkpoint(run_dir)
        trainer.load_state(tensors, meta, str(path))
        trainer.last_checkpoint = path
    elif resume and trainer.ctx.is_main:
        print(f"note: {run_dir} has no checkpoint yet; starting it from step 0", file=sys.stderr)
    if resume and trainer.ctx.is_main:
        trim_metrics(run_dir, trainer.step)  # drop records past the checkpoint (a crash's)
    if recipe.train.tensorboard and trainer.ctx.is_main:
        from ganzoo.train.board import Board

        trainer.board = Board(run_dir, trainer.step, recipe.to_dict())
    try:
        trainer.fit(steps or recipe.train.steps, show_progress=show_progress)
    finally:
        if trainer.board is not None:
            trainer.board.close()
    return trainer
