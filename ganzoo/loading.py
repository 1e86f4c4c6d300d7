"""Reading a trained generator back: from a run folder's checkpoint, or from an exported
``generator.safetensors`` alone. Nothing here imports the training loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.build import create_generator
from ganzoo.components import NameTable
from ganzoo.config import build_dataclass, check_sizes
from ganzoo.errors import GanzooError, UnknownComponentError
from ganzoo.recipes import recipe_from_config
from ganzoo.store import checkpoint as ckpt
from ganzoo.store.generator_file import read_generator_file
from ganzoo.store.run import read_config


def load_generator(run_dir: Any, checkpoint: Any = None, *, table: NameTable,
                   device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The EMA generator of a run (its latest checkpoint unless one is named), in eval mode,
    and what it is: ``arch``, ``generator_config``, ``step``, ``recipe_name`` (and for a run
    also its ``config`` and resolved ``recipe``).

    ``run_dir`` may also be a ``generator.safetensors`` made by ``ganzoo export``.
    """
    run_dir = Path(run_dir)
    if run_dir.is_file() and checkpoint is None:
        return load_generator_file(run_dir, table=table, device=device)
    config = read_config(run_dir)
    recipe = recipe_from_config(config, table)
    if checkpoint is None:
        path, tensors, meta = ckpt.latest_checkpoint(run_dir)
    else:
        path = Path(checkpoint)
        tensors, meta = ckpt.read_checkpoint(path)
    G = create_generator(recipe.generator_arch, recipe.generator, table=table)
    ckpt.module_from_tensors("G_ema", G, tensors, str(path))
    info = {"config": config, "recipe": recipe, "step": int(meta["step"]), "checkpoint": path,
            "arch": recipe.generator_arch, "generator_config": recipe.generator,
            "recipe_name": recipe.name}
    return G.to(device).eval().requires_grad_(False), info


def load_generator_file(path: Any, *, table: NameTable,
                        device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """A generator rebuilt from a ``generator.safetensors`` alone (architecture, config and
    weights all come from the file), in eval mode, and the same ``info`` keys as
    :func:`load_generator` (less the run's ``config`` and ``recipe``)."""
    path = Path(path)
    tensors, meta = read_generator_file(path)
    try:
        component = table.resolve("architecture", meta["arch"])
    except UnknownComponentError as exc:
        raise GanzooError(f"{path} needs the architecture '{meta['arch']}', which no installed "
                          f"plugin provides; install the plugin that does ({exc})") from None
    cls = component.value.generator
    if cls is None:
        raise GanzooError(f"{path}: architecture '{component.full_name}' has no generator")
    config = build_dataclass(cls.config_class, meta["config"], f"{path}: generator config")
    check_sizes("generator", config, component.full_name,
                f"{path}: its metadata was edited or damaged; export it again with "
                "'ganzoo export RUN'")
    try:
        G = create_generator(component.full_name, config, table=table)
    except GanzooError as exc:
        raise GanzooError(f"{path}: the generator its metadata describes cannot be built "
                          f"({exc}); the file was edited or damaged: export it again with "
                          "'ganzoo export RUN'") from exc
    generator_weights_into(G, tensors, str(path))
    info = {"checkpoint": path, "step": meta["step"], "arch": component.full_name,
            "generator_config": config, "recipe_name": meta["recipe"], "file_metadata": meta}
    return G.to(device).eval().requires_grad_(False), info


def generator_weights_into(G: nn.Module, tensors: dict[str, torch.Tensor], where: str) -> None:
    """Load a generator file's tensors into ``G``. Floating tensors stored at another floating
    precision (fp16 pretrained weights) are cast to ``G``'s; names, shapes and every other
    dtype must match exactly."""
    expected = G.state_dict()
    cast = {}
    for key, value in tensors.items():
        want = expected.get(key)
        if (want is not None and value.dtype != want.dtype and value.is_floating_point()
                and want.is_floating_point()):
            value = value.to(want.dtype)
        cast[f"G.{key}"] = value
    ckpt.module_from_tensors("G", G, cast, where)
