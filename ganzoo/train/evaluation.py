"""Scoring during training (``ganzoo train --eval-every N``), through the metrics' public
functions: log each score, and keep the best checkpoint by Fréchet distance."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import safe_open

from ganzoo.components import NameTable
from ganzoo.data import ImageData
from ganzoo.errors import Diverged, GanzooError
from ganzoo.fileio import atomic_write
from ganzoo.latents import LATENT_SAMPLER
from ganzoo.metrics.features import load_extractor
from ganzoo.metrics.scoring import LABELS, EvalResult, quantize, score_images
from ganzoo.sampling import generate_images
from ganzoo.store import checkpoint as ckpt
from ganzoo.store.run import append_metrics

if TYPE_CHECKING:
    from ganzoo.train.loop import Trainer


class TrainingEvaluator:
    """What ``ganzoo train --eval-every N`` runs every N steps on the main process: score the
    EMA generator, log it to ``metrics.jsonl``, and keep the best checkpoint by Fréchet
    distance as ``checkpoints/best.safetensors`` (not a step checkpoint, so never pruned)."""

    def __init__(self, data: ImageData, *, table: NameTable, n: int, extractor: str = "fmnist",
                 metrics: Sequence[str] = ("fd", "kd", "pr"), seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        self.data, self.n, self.metrics, self.seed = data, n, list(metrics), seed
        self.extractor = load_extractor(extractor, table=table, device=device)
        if data.channels not in self.extractor.spec.channels:
            raise GanzooError(f"train.eval_extractor={extractor} takes "
                              f"{self.extractor.spec.channels}-channel images, the data has "
                              f"{data.channels}; set train.eval_extractor to one that fits")
        self.device = device
        self.best: float | None = None

    def _best_so_far(self, path: Path, key: str) -> float | None:
        """The score the existing best checkpoint was kept for (a resumed run continues)."""
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            return float(json.loads(meta.get("eval", "{}"))[key])
        except Exception:
            return None

    def __call__(self, trainer: Trainer) -> EvalResult:
        cfg = trainer.recipe.generator
        trainer.refresh_ema()
        fakes = generate_images(trainer.G_ema, self.n, nz=cfg.nz, num_classes=cfg.num_classes,
                                seed=self.seed, device=trainer.device, postprocess=quantize)
        result = score_images(fakes, self.data, metrics=self.metrics, extractor=self.extractor,
                              seed=self.seed, protocol={
                                  "step": trainer.step, "checkpoint": "training (EMA)",
                                  "generator": trainer.recipe.generator_arch,
                                  "recipe": trainer.recipe.name,
                                  "latents": LATENT_SAMPLER, "labels": LABELS})
        record = result.record()
        append_metrics(trainer.run_dir, record)
        if trainer.board is not None:
            trainer.board.scalars(record)
        key = result.best_key()
        if key in result.scores:
            path = trainer.run_dir / "checkpoints" / ckpt.BEST_NAME
            if self.best is None:
                self.best = self._best_so_far(path, key)
            score = result.scores[key]
            # a NaN/Inf score is never "better": it would replace a good best for good
            if math.isfinite(score) and (self.best is None or score < self.best):
                tensors, meta = trainer.state()
                bad = ckpt.first_non_finite(tensors)
                if bad is not None:  # the same refusal as the trainer's checkpoints
                    raise Diverged(f"training diverged by step {trainer.step}: {bad} holds "
                                   f"NaN/Inf, so {path} was not written "
                                   f"({ckpt.describe_last_good(trainer.last_checkpoint)}); "
                                   "lower the learning rate and start a new run")
                self.best = score
                meta = {**meta, "format": ckpt.FORMAT, "step": str(trainer.step),
                        "eval": json.dumps(result.scores), "eval_protocol":
                        json.dumps(result.protocol)}
                atomic_write(path, ckpt.encode(tensors, meta))  # with its digest
        return result
