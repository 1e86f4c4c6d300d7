"""``generator.safetensors``: a generator's weights plus everything needed to rebuild it.

The tensors are the module's ``state_dict`` as trained (spectral-norm parametrizations and
all), so the same class loads them back unchanged; the safetensors metadata (strings) holds the
architecture's full name, the full generator config as JSON, the ganzoo version, the training
step and the recipe name. Never pickle.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save

from ganzoo.errors import GanzooError
from ganzoo.store.checkpoint import FORMAT as CHECKPOINT_FORMAT
from ganzoo.version import __version__

FORMAT = "ganzoo-generator/1"


def generator_bytes(G: torch.nn.Module, arch: str, config: Any, step: int,
                    recipe: str, half: bool = False) -> bytes:
    """The serialized ``generator.safetensors`` for ``G`` (built as ``arch`` with ``config``).

    ``half`` stores floating tensors as float16 (pretrained weights: half the size); readers
    cast them back to the model's precision (:func:`ganzoo.loading.generator_weights_into`).
    """
    config_dict = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    tensors = {k: v.detach().cpu().contiguous() for k, v in G.state_dict().items()}
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    meta = {"format": FORMAT, "arch": arch, "config": json.dumps(config_dict, sort_keys=True),
            "ganzoo_version": __version__, "step": str(int(step)), "recipe": recipe,
            "torch_version": torch.__version__}
    return st_save(tensors, metadata=meta)


def read_generator_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and parsed metadata (``arch``, ``config`` dict, ``step``, ``recipe``, ...)."""
    path = Path(path)
    if not path.is_file():
        raise GanzooError(f"{path} does not exist; export one with 'ganzoo export RUN'")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise GanzooError(f"{path} is not a readable safetensors file ({exc}); "
                          "re-export it with 'ganzoo export RUN'") from exc
    if meta.get("format") == CHECKPOINT_FORMAT:
        raise GanzooError(f"{path} is a training checkpoint, not a generator file; pass its run "
                          "folder instead, or export one with 'ganzoo export RUN'")
    if meta.get("format") != FORMAT:
        raise GanzooError(f"{path} is not a ganzoo generator file (format "
                          f"{meta.get('format')!r}); export one with 'ganzoo export RUN'")
    try:
        parsed = {**meta, "config": json.loads(meta["config"]), "step": int(meta["step"]),
                  "arch": meta["arch"], "recipe": meta.get("recipe", "")}
    except (KeyError, ValueError) as exc:
        raise GanzooError(f"{path}: damaged generator metadata ({exc!r}); re-export it with "
                          "'ganzoo export RUN'") from exc
    if not isinstance(parsed["config"], dict):
        raise GanzooError(f"{path}: the generator config in its metadata is not a mapping; "
                          "re-export it with 'ganzoo export RUN'")
    return tensors, parsed
