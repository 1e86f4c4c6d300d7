"""``ganzoo train --init SOURCE``: start a new run from trained weights instead of random ones.

- A run folder: G, its EMA copy and D come from the run's latest checkpoint (fine-tuning a
  GAN you trained); the optimizers, the step and the RNG start fresh, as in any new run.
- A ``generator.safetensors`` (a pretrained tag's, a hub folder's, an export's): it holds the
  generator only, so G and its EMA copy start from it and D starts fresh (fine-tuning a
  pretrained generator on new data with a new critic).

Either way the models this run's recipe builds must be the ones the weights were trained as
(same architectures, same configs), or the error names every key that differs and the fix.
Only safetensors are read; nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import torch

from ganzoo.components import NameTable
from ganzoo.config import DERIVED_FIELDS, ResolvedRecipe
from ganzoo.errors import GanzooError
from ganzoo.loading import generator_weights_into
from ganzoo.recipes import recipe_from_config
from ganzoo.store import checkpoint as ckpt
from ganzoo.store.generator_file import read_generator_file
from ganzoo.store.run import read_config

#: The models a run folder's checkpoint gives a fine-tuning run (optimizers, RNG: fresh).
MODELS = ("G", "G_ema", "D")


@dataclasses.dataclass(frozen=True)
class InitWeights:
    """The weights a run starts from, and what config.json records about them.

    ``tensors`` are a generator file's (keys as in the module's state_dict) when
    ``from_run`` is False, else a checkpoint's ``G.*``, ``G_ema.*`` and ``D.*`` tensors.
    """

    tensors: dict[str, torch.Tensor]
    record: dict[str, Any]
    from_run: bool = False

    def describe(self) -> str:
        """The one line ``ganzoo train`` prints about it."""
        r = self.record
        if self.from_run:
            return (f"G, its EMA copy and D from {r['from']} ({Path(r['file']).name}, step "
                    f"{r['step']}); the optimizers, the step and the RNG start fresh")
        return (f"generator from {r['from']} (step {r['step']}); the discriminator starts "
                "fresh (the file holds a generator only)")


def read_init(path: Path, label: str, recipe: ResolvedRecipe, *,
              table: NameTable) -> InitWeights:
    """The weights at ``path`` (a run folder or a generator file), checked against the models
    ``recipe`` builds (after its data shape is set): the same architectures and configs, or a
    GanzooError saying what differs and how to match it."""
    path = Path(path)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise GanzooError(f"--init {label}: {path} is a folder but neither a run folder "
                              "(config.json and checkpoints/) nor a hub folder; give a run "
                              "folder, a pretrained tag, a hub folder or a generator.safetensors")
        return _read_run(path, label, recipe, table)
    if not path.is_file():
        raise GanzooError(f"--init {label}: {path} is not a generator file; give a run folder, a "
                          "pretrained tag, a hub folder or a generator.safetensors ('ganzoo "
                          "export RUN' writes one from a run)")
    tensors, meta = read_generator_file(path)
    theirs = table.resolve("architecture", meta["arch"]).full_name
    ours = table.resolve("architecture", recipe.generator_arch).full_name
    hint = f"--arch {meta['recipe']}" if meta["recipe"] else f"a recipe with arch {theirs}"
    if theirs != ours:
        raise GanzooError(f"--init {label}: its generator is {theirs}, this run's is {ours}; "
                          f"train the recipe it came from ({hint})")
    _check_same(label, "its generator config differs from this run's", hint,
                _differences("generator", meta["config"], dataclasses.asdict(recipe.generator)))
    record = {"from": label, "file": str(path.resolve()), "sha256": _sha256(path),
              "arch": theirs, "recipe": meta["recipe"], "step": meta["step"],
              "discriminator": "fresh"}
    return InitWeights(tensors, record)


def _read_run(run_dir: Path, label: str, recipe: ResolvedRecipe,
              table: NameTable) -> InitWeights:
    """G, G_ema and D of a run's latest checkpoint, for a recipe that builds the same models."""
    try:
        config = read_config(run_dir)
        source = recipe_from_config(config, table)
    except GanzooError as exc:
        raise GanzooError(f"--init {label}: {exc}") from exc
    hint = f"--arch {source.name}"
    archs = {side: (table.resolve("architecture", getattr(source, f"{side}_arch")).full_name,
                    table.resolve("architecture", getattr(recipe, f"{side}_arch")).full_name)
             for side in ("generator", "discriminator")}
    differ = [(f"{side}.arch", theirs, ours) for side, (theirs, ours) in archs.items()
              if theirs != ours]
    if not differ:  # the same classes: their configs must agree too
        for side in ("generator", "discriminator"):
            differ += _differences(side, dataclasses.asdict(getattr(source, side)),
                                   dataclasses.asdict(getattr(recipe, side)))
    _check_same(label, "its models differ from this run's", hint, differ)
    try:
        path, tensors, meta = ckpt.latest_checkpoint(run_dir)
    except GanzooError as exc:
        raise GanzooError(f"--init {label}: {exc}") from exc
    kept = {k: v for k, v in tensors.items() if k.split(".", 1)[0] in MODELS}
    record = {"from": label, "run": str(run_dir.resolve()), "file": str(path.resolve()),
              "sha256": _sha256(path), "arch": archs["generator"][0],
              "discriminator_arch": archs["discriminator"][0], "recipe": source.name,
              "step": int(meta["step"]), "discriminator": "checkpoint"}
    return InitWeights(kept, record, from_run=True)


def _differences(side: str, have: dict[str, Any], want: dict[str, Any]) -> list[
        tuple[str, Any, Any]]:
    """(key, there, here) for every config field that differs; the fields set from the data
    (resolution, channels, classes) are named without their side: both sides share them."""
    return [(k if k in DERIVED_FIELDS else f"{side}.{k}", have.get(k), want.get(k))
            for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)]


def _check_same(label: str, what: str, hint: str, differ: list[tuple[str, Any, Any]]) -> None:
    """A GanzooError naming what differs and the settings that match it, if anything does."""
    if not differ:
        return
    seen: dict[str, tuple[Any, Any]] = {}
    for key, there, here in differ:
        seen.setdefault(key, (there, here))
    shown = [f"{k} {there!r} there, {here!r} here" for k, (there, here) in seen.items()]
    if len(shown) > 6:
        shown = [*shown[:6], f"and {len(shown) - 6} more"]
    sets, other = [], []
    for key, (there, _) in seen.items():
        if key == "resolution":
            sets.append(f"--set train.resolution={there}")
        elif key == "channels":
            other.append(f"train on {there}-channel images (--data)")
        elif key == "num_classes":
            other.append(f"train on data with {there} classes with a conditional recipe"
                         if there else "train an unconditional recipe")
        elif key.endswith(".arch") or there is None:
            other.append(f"train the recipe it came from ({hint})")
        else:
            sets.append(f"--set {key}={there}")
    fixes = ([f"add {' '.join(sets)}"] if sets else []) + list(dict.fromkeys(other))
    raise GanzooError(f"--init {label}: {what} ({', '.join(shown)}); {'; '.join(fixes)} "
                      "(fine-tuning needs the models the weights were trained as)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def apply_init(G: torch.nn.Module, D: torch.nn.Module, G_ema: torch.nn.Module,
               init: InitWeights) -> None:
    """Load the weights into a new run's models (step 0): from a run, G, G_ema and D each from
    its own tensors; from a generator file, G from it and G_ema equal to G (D keeps its fresh
    initialisation)."""
    where = f"--init {init.record['from']}"
    if init.from_run:
        for prefix, module in zip(MODELS, (G, G_ema, D)):
            ckpt.module_from_tensors(prefix, module, init.tensors, where)
        return
    generator_weights_into(G, init.tensors, where)
    G_ema.load_state_dict(G.state_dict())
