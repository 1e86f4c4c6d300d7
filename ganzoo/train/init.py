"""``ganzoo train --init WEIGHTS``: start a run's generator (and its EMA copy) from a
``generator.safetensors`` — pretrained weights, a hub folder's, an export's — instead of
random weights. The file holds the generator only, so the discriminator starts fresh (as in
fine-tuning a pretrained GAN on new data with a new critic); the optimizers do too."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import torch

from ganzoo.components import NameTable
from ganzoo.config import ResolvedRecipe
from ganzoo.errors import GanzooError
from ganzoo.loading import generator_weights_into
from ganzoo.store.generator_file import read_generator_file


@dataclasses.dataclass(frozen=True)
class InitWeights:
    """The generator tensors a run starts from, and what config.json records about them."""

    tensors: dict[str, torch.Tensor]
    record: dict[str, Any]


def read_init(path: Path, label: str, recipe: ResolvedRecipe, *,
              table: NameTable) -> InitWeights:
    """The weights at ``path``, checked against the generator ``recipe`` builds (after its
    data shape is set): the same architecture and the same config, or a GanzooError saying
    what differs and how to match it."""
    path = Path(path)
    if not path.is_file():
        raise GanzooError(f"--init {label}: {path} is not a generator file; give a pretrained "
                          "tag, a hub folder or a generator.safetensors ('ganzoo export RUN' "
                          "writes one from a run)")
    tensors, meta = read_generator_file(path)
    theirs = table.resolve("architecture", meta["arch"]).full_name
    ours = table.resolve("architecture", recipe.generator_arch).full_name
    hint = f"--arch {meta['recipe']}" if meta["recipe"] else f"a recipe with arch {theirs}"
    if theirs != ours:
        raise GanzooError(f"--init {label}: its generator is {theirs}, this run's is {ours}; "
                          f"train the recipe it came from ({hint})")
    want = dataclasses.asdict(recipe.generator)
    have = meta["config"]
    differ = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
    if differ:
        shown = ", ".join(f"{k} {have.get(k)!r} there, {want.get(k)!r} here" for k in differ[:4])
        sets = " ".join(f"--set generator.{k}={have[k]}" for k in differ[:4]
                        if k in have and k not in ("channels", "num_classes", "resolution"))
        fix = f"add {sets}" if sets else f"train {hint}"
        raise GanzooError(f"--init {label}: its generator config differs from this run's "
                          f"({shown}); {fix} (channels, classes and resolution come from the "
                          "data and train.resolution)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    record = {"from": label, "file": str(path.resolve()), "sha256": digest,
              "arch": theirs, "recipe": meta["recipe"], "step": meta["step"],
              "discriminator": "fresh"}
    return InitWeights(tensors, record)


def apply_init(G: torch.nn.Module, G_ema: torch.nn.Module, init: InitWeights) -> None:
    """Load the weights into G and make the EMA copy equal to it (step 0)."""
    generator_weights_into(G, init.tensors, f"--init {init.record['from']}")
    G_ema.load_state_dict(G.state_dict())
