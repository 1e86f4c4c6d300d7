"""A trainer's full state as checkpoint tensors and metadata, and back.

What :meth:`Trainer.state` returns is what ``checkpoints/step-*.safetensors`` holds (see
:mod:`ganzoo.store.checkpoint` for the file format): the three models, both optimizers, the
RNG states, the grad scalers, the data position and the step counters.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.store import checkpoint as ckpt

if TYPE_CHECKING:
    from ganzoo.train.loop import Trainer


def trainer_state(trainer: Trainer) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Everything needed to continue ``trainer`` exactly where it is."""
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, str] = {}
    ckpt.module_to_tensors("G", trainer.G, tensors)
    ckpt.module_to_tensors("D", trainer.D, tensors)
    ckpt.module_to_tensors("G_ema", trainer.G_ema, tensors)
    ckpt.optimizer_to_tensors("opt_g", trainer.opt_g, tensors, meta)
    ckpt.optimizer_to_tensors("opt_d", trainer.opt_d, tensors, meta)
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.z"] = trainer.z_gen.get_state().cpu()
    if trainer.device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(trainer.device)
    meta["scalers"] = json.dumps({"g": _scaler_state(trainer.scaler_g),
                                  "d": _scaler_state(trainer.scaler_d)})
    meta["data_position"] = str(trainer.stream.position)
    meta["d_steps"] = str(trainer.d_steps)
    meta["recipe"] = json.dumps(trainer.recipe.to_dict())
    meta["precision"] = trainer.fast.precision
    return tensors, meta


def restore_trainer(trainer: Trainer, tensors: dict[str, torch.Tensor], meta: dict[str, str],
                    where: str) -> None:
    """Restore everything :func:`trainer_state` saved; a file that does not fit is a GanzooError."""
    try:
        _restore(trainer, tensors, meta, where)
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError,
            RecursionError, OverflowError) as exc:  # the file's content is untrusted
        raise GanzooError(f"{where} does not hold a usable training state "
                          f"({type(exc).__name__}: {exc})") from exc


def _restore(trainer: Trainer, tensors: dict[str, torch.Tensor], meta: dict[str, str],
             where: str) -> None:
    ckpt.module_from_tensors("G", trainer.G, tensors, where)
    ckpt.module_from_tensors("D", trainer.D, tensors, where)
    ckpt.module_from_tensors("G_ema", trainer.G_ema, tensors, where)
    ckpt.optimizer_from_tensors("opt_g", trainer.opt_g, tensors, meta, where)
    ckpt.optimizer_from_tensors("opt_d", trainer.opt_d, tensors, meta, where)
    torch.set_rng_state(tensors["rng.torch"])
    trainer.z_gen.set_state(tensors["rng.z"])
    if "rng.cuda" in tensors and trainer.device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"], trainer.device)
    scalers = json.loads(meta.get("scalers", "{}"))
    if not isinstance(scalers, dict):
        raise ValueError(f"scalers metadata is {type(scalers).__name__}, not a mapping")
    for key, scaler in (("g", trainer.scaler_g), ("d", trainer.scaler_d)):
        if scalers.get(key):
            scaler.load_state_dict(scalers[key])
    counters = {key: int(meta[key]) for key in ("step", "data_position", "d_steps")}
    if min(counters.values()) < 0:
        raise ValueError(f"negative counters {counters}")
    trainer.step, trainer.d_steps = counters["step"], counters["d_steps"]
    trainer.stream.position = counters["data_position"]


def _scaler_state(scaler: torch.amp.GradScaler) -> dict[str, Any]:
    if not scaler.is_enabled():
        return {}
    return {k: (v.item() if isinstance(v, torch.Tensor) else v)
            for k, v in scaler.state_dict().items()}
