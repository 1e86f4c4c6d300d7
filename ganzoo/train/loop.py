"""The training loop shared by every recipe: D step(s), then a G step, then EMA.

Nothing here knows an architecture or a loss: losses and regularizers come from the registry
as pure functions of D's outputs / models / batches.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganzoo.config import ResolvedRecipe
from ganzoo.data import BatchStream, ImageData
from ganzoo.images import save_grid
from ganzoo.models import build_pair
from ganzoo.plugins import get_registry
from ganzoo.train import checkpoint as ckpt
from ganzoo.train.ema import ema_decay_at, update_ema
from ganzoo.train.progress import Progress
from ganzoo.train.run import append_metrics

SAMPLE_COUNT = 64


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        from ganzoo.errors import GanzooError

        raise GanzooError(f"--device {name}: CUDA is not available here; use --device cpu")
    return device


@dataclass
class StepLosses:
    d_loss: torch.Tensor
    g_loss: torch.Tensor


class Trainer:
    """Owns the models, optimizers, data stream and RNG of one run."""

    def __init__(self, recipe: ResolvedRecipe, data: ImageData, run_dir: Path,
                 device: torch.device, registry: Any = None) -> None:
        registry = registry or get_registry()
        self.recipe, self.run_dir, self.device = recipe, run_dir, device
        run_dir.mkdir(parents=True, exist_ok=True)
        t = recipe.train
        torch.manual_seed(t.seed)
        self.G, self.D = build_pair(recipe, registry)
        self.G.to(device)
        self.D.to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.loss = registry.get("loss", recipe.loss)
        self.regularizers = []
        for spec in recipe.regularizers:
            reg = registry.get("regularizer", spec.name)
            weight = reg.weight if spec.weight is None else spec.weight
            interval = reg.interval if spec.interval is None else spec.interval
            if weight:  # weight 0 turns a regularizer (e.g. a loss's companion) off
                self.regularizers.append((reg, weight, interval))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=t.lr, betas=t.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=t.lr_d or t.lr, betas=t.betas)
        self.stream = BatchStream(data, t.batch, t.seed, device)
        self.num_classes = recipe.generator.num_classes
        self.nz = recipe.generator.nz
        self.z_gen = torch.Generator(device).manual_seed(t.seed + 1)
        sample_gen = torch.Generator(device).manual_seed(t.seed + 2)
        self.sample_z = torch.randn(SAMPLE_COUNT, self.nz, generator=sample_gen, device=device)
        self.sample_labels = (torch.arange(SAMPLE_COUNT, device=device) % self.num_classes
                              if self.num_classes else None)
        self.step = 0
        self.d_steps = 0
        self.autocast = self._autocast_kwargs(t.precision)

    def _autocast_kwargs(self, precision: str) -> dict[str, Any]:
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        return {"device_type": self.device.type, "dtype": dtype, "enabled": dtype is not None}

    # -- one step --------------------------------------------------------------------------

    def _latents(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(n, self.nz, generator=self.z_gen, device=self.device)
        labels = (torch.randint(0, self.num_classes, (n,), generator=self.z_gen,
                                device=self.device) if self.num_classes else None)
        return z, labels

    def train_step(self) -> StepLosses:
        """``n_critic`` D updates, then one G update reusing the last D step's fakes."""
        t, G, D = self.recipe.train, self.G, self.D
        D.requires_grad_(True)
        for i in range(t.n_critic):
            last = i == t.n_critic - 1
            real, labels = self.stream.next()
            real_labels = labels if self.num_classes else None
            z, fake_labels = self._latents(real.shape[0])
            with torch.autocast(**self.autocast), torch.set_grad_enabled(last):
                fake = G(z, fake_labels)
            with torch.autocast(**self.autocast):
                d_real = D(real, real_labels)
                d_fake = D(fake.detach(), fake_labels)
            d_loss = self.loss.d_loss(d_real.float(), d_fake.float())
            self.d_steps += 1
            for reg, weight, interval in self.regularizers:
                if self.d_steps % interval == 0:
                    penalty = reg.fn(D, real, fake.detach(), real_labels)
                    d_loss = d_loss + weight * interval * penalty
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            if self.loss.after_d_step is not None:
                self.loss.after_d_step(D)

        D.requires_grad_(False)
        with torch.autocast(**self.autocast):
            g_fake = D(fake, fake_labels)
            g_real = D(real, real_labels) if self.loss.uses_real_in_g else None
        g_loss = self.loss.g_loss(g_fake.float(), None if g_real is None else g_real.float())
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        update_ema(self.G_ema, G, ema_decay_at(self.step, t.ema_decay))
        self.step += 1
        return StepLosses(d_loss.detach(), g_loss.detach())

    # -- outputs ---------------------------------------------------------------------------

    @torch.no_grad()
    def save_samples(self) -> Path:
        with torch.autocast(**self.autocast):
            images = self.G_ema(self.sample_z, self.sample_labels)
        path = self.run_dir / "samples" / f"step-{self.step:07d}.png"
        return save_grid(images.float().cpu().numpy(), path)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        tensors: dict[str, torch.Tensor] = {}
        meta: dict[str, str] = {}
        ckpt.module_to_tensors("G", self.G, tensors)
        ckpt.module_to_tensors("D", self.D, tensors)
        ckpt.module_to_tensors("G_ema", self.G_ema, tensors)
        ckpt.optimizer_to_tensors("opt_g", self.opt_g, tensors, meta)
        ckpt.optimizer_to_tensors("opt_d", self.opt_d, tensors, meta)
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.z"] = self.z_gen.get_state().cpu()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        meta["data_position"] = str(self.stream.position)
        meta["d_steps"] = str(self.d_steps)
        meta["recipe"] = json.dumps(self.recipe.to_dict())
        return tensors, meta

    def save_checkpoint(self) -> Path:
        tensors, meta = self.state()
        return ckpt.save_checkpoint(self.run_dir, self.step, tensors, meta,
                                    keep=self.recipe.train.keep_checkpoints)

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, str],
                   where: str) -> None:
        ckpt.module_from_tensors("G", self.G, tensors, where)
        ckpt.module_from_tensors("D", self.D, tensors, where)
        ckpt.module_from_tensors("G_ema", self.G_ema, tensors, where)
        ckpt.optimizer_from_tensors("opt_g", self.opt_g, tensors, meta)
        ckpt.optimizer_from_tensors("opt_d", self.opt_d, tensors, meta)
        torch.set_rng_state(tensors["rng.torch"])
        self.z_gen.set_state(tensors["rng.z"].to(self.z_gen.device)
                             if self.device.type != "cpu" else tensors["rng.z"])
        if "rng.cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.step = int(meta["step"])
        self.stream.position = int(meta["data_position"])
        self.d_steps = int(meta["d_steps"])

    # -- the loop --------------------------------------------------------------------------

    def fit(self, steps: int, show_progress: bool = True) -> None:
        """Train until ``self.step == steps``, logging, sampling and checkpointing on the way."""
        t = self.recipe.train
        progress = Progress(total=steps, start=self.step, enabled=show_progress)
        window_start, window_step = time.perf_counter(), self.step
        try:
            while self.step < steps:
                losses = self.train_step()
                at_end = self.step == steps
                if self.step % t.log_every == 0 or at_end:
                    d, g = losses.d_loss.item(), losses.g_loss.item()  # the one host sync
                    now = time.perf_counter()
                    img_s = (self.step - window_step) * t.batch * t.n_critic / (now - window_start)
                    window_start, window_step = now, self.step
                    append_metrics(self.run_dir, {"step": self.step, "d_loss": d, "g_loss": g,
                                                  "img_per_s": round(img_s, 1),
                                                  "time": round(time.time(), 3)})
                    progress.update(self.step, d, g, img_s)
                if self.step % t.sample_every == 0 or at_end:
                    self.save_samples()
                if self.step % t.checkpoint_every == 0 or at_end:
                    self.save_checkpoint()
        except KeyboardInterrupt:
            progress.close()
            path = self.save_checkpoint()
            print(f"interrupted: saved {path}; continue with "
                  f"'ganzoo train --resume {self.run_dir}'")
            raise
        progress.close()


def train(recipe: ResolvedRecipe, data: ImageData, run_dir: Path, device: torch.device,
          steps: int | None = None, resume: bool = False, show_progress: bool = True) -> Trainer:
    """Train ``recipe`` on ``data`` in ``run_dir`` (resuming from its latest checkpoint)."""
    trainer = Trainer(recipe, data, run_dir, device)
    if resume:
        path, tensors, meta = ckpt.latest_checkpoint(run_dir)
        trainer.load_state(tensors, meta, str(path))
    trainer.fit(steps or recipe.train.steps, show_progress=show_progress)
    return trainer
