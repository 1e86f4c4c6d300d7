"""Checkpoints as safetensors (never pickle), written atomically.

One file holds the full state: ``G.*``, ``D.*``, ``G_ema.*`` weights, both optimizers'
tensors (``opt_g.<param>.<key>``) with their hyper-parameters as JSON metadata, the RNG
states, and the step. A write goes to a temporary file that is fsynced, then renamed over
the target, and the folder is fsynced: a crash leaves the old file or the new one, never half.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save

from ganzoo.errors import GanzooError

FORMAT = "ganzoo-checkpoint/1"
NAME = re.compile(r"^step-(\d+)\.safetensors$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def optimizer_to_tensors(prefix: str, opt: torch.optim.Optimizer,
                         tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    sd = opt.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    meta[f"{prefix}.param_groups"] = json.dumps(sd["param_groups"])
    meta[f"{prefix}.scalars"] = json.dumps(scalars)


def optimizer_from_tensors(prefix: str, opt: torch.optim.Optimizer,
                           tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    for index, values in json.loads(meta[f"{prefix}.scalars"]).items():
        state.setdefault(int(index), {}).update(values)
    groups = json.loads(meta[f"{prefix}.param_groups"])
    opt.load_state_dict({"state": state, "param_groups": groups})


def module_to_tensors(prefix: str, module: torch.nn.Module,
                      tensors: dict[str, torch.Tensor]) -> None:
    for key, value in module.state_dict().items():
        tensors[f"{prefix}.{key}"] = value.detach().cpu().contiguous()


def module_from_tensors(prefix: str, module: torch.nn.Module,
                        tensors: dict[str, torch.Tensor], where: str) -> None:
    sd = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    expected = module.state_dict()
    missing = sorted(set(expected) - set(sd))
    extra = sorted(set(sd) - set(expected))
    if missing or extra:
        raise GanzooError(
            f"{where} does not match the model: missing {missing[:3]}, unexpected {extra[:3]}; "
            "was it written by a different architecture or config?"
        )
    for key, value in sd.items():
        if value.shape != expected[key].shape:
            raise GanzooError(f"{where}: {prefix}.{key} has shape {list(value.shape)}, the model "
                              f"expects {list(expected[key].shape)}")
    module.load_state_dict(sd)


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step-{step:07d}.safetensors"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint in a run, oldest first."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def save_checkpoint(run_dir: Path, step: int, tensors: dict[str, torch.Tensor],
                    meta: dict[str, str], keep: int) -> Path:
    """Write step ``step`` atomically, then drop all but the newest ``keep`` checkpoints."""
    meta = {**meta, "format": FORMAT, "step": str(step)}
    path = checkpoint_path(run_dir, step)
    atomic_write_bytes(path, st_save(tensors, metadata=meta))
    for _, old in list_checkpoints(run_dir)[:-keep]:
        if old != path:
            old.unlink(missing_ok=True)
    return path


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of one checkpoint; a truncated or foreign file is an error."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise GanzooError(f"checkpoint {path} is unreadable ({exc}); it may be truncated") from exc
    if meta.get("format") != FORMAT:
        raise GanzooError(f"{path} is not a ganzoo checkpoint (format {meta.get('format')!r})")
    return tensors, meta


def latest_checkpoint(run_dir: Path) -> tuple[Path, dict[str, torch.Tensor], dict[str, str]]:
    """The newest checkpoint that reads back whole; broken newer ones are reported and skipped."""
    problems = []
    for _, path in reversed(list_checkpoints(run_dir)):
        try:
            tensors, meta = read_checkpoint(path)
            for problem in problems:
                print(f"warning: {problem}; using {path.name}")
            return path, tensors, meta
        except GanzooError as exc:
            problems.append(str(exc))
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise GanzooError(f"{run_dir} has no readable checkpoint{detail}; start a new run instead")
