"""Typed configs, and recipe resolution: defaults < recipe < ``--set`` overrides.

Every key is checked against a dataclass; an unknown key, a wrong type or an out-of-range
value is a :class:`GanzooError` naming the recipe, the key and the fix.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import yaml

from ganzoo.errors import AmbiguousNameError, GanzooError, UnknownComponentError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class GeneratorConfig:
    """Fields every generator config has; architectures subclass it with their own."""

    nz: int = 100
    resolution: int = 32
    channels: int = 1
    num_classes: int = 0


@dataclass
class DiscriminatorConfig:
    """Fields every discriminator config has; architectures subclass it with their own."""

    resolution: int = 32
    channels: int = 1
    num_classes: int = 0


# Set from the data and ``train.resolution``, never by hand in a model section.
DERIVED_FIELDS = ("resolution", "channels", "num_classes")


@dataclass
class TrainConfig:
    """Training defaults; a recipe's ``train:`` section and ``--set train.KEY=V`` override them."""

    resolution: int = 32
    batch: int = 64
    steps: int = 5000
    lr: float = 2e-4
    lr_d: float | None = None
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1
    ema_decay: float = 0.999
    dataset: str = "fashion-mnist"
    conditional: bool = False
    seed: int = 0
    precision: str = "auto"
    accumulate: int = 1
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    log_every: int = 10
    eval_every: int = 0  # 0: no evaluation during training
    eval_n: int = 2000
    eval_extractor: str = "fmnist"
    augment: str = ""  # DiffAugment operations for D's inputs, e.g. "translation,cutout"

    def validate(self, where: str) -> None:
        def bad(key: str, why: str) -> GanzooError:
            return GanzooError(f"{where}: train.{key} {why}")

        r = self.resolution
        if r < 4 or r & (r - 1):
            raise bad("resolution", f"must be a power of two such as 32 or 64, got {r}")
        for key in ("batch", "steps", "n_critic", "sample_every", "checkpoint_every",
                    "keep_checkpoints", "log_every", "accumulate"):
            if getattr(self, key) < 1:
                raise bad(key, f"must be at least 1, got {getattr(self, key)}")
        if self.eval_every < 0:
            raise bad("eval_every", f"must be 0 (off) or a number of steps, got {self.eval_every}")
        if self.eval_n < 2:
            raise bad("eval_n", f"must be at least 2 images, got {self.eval_n}")
        for key in ("lr", "lr_d"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise bad(key, f"must be a positive learning rate, got {value}")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise bad("betas", f"must be two numbers in [0, 1), got {list(self.betas)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise bad("ema_decay", f"must be in [0, 1), got {self.ema_decay}")
        if self.batch % self.accumulate:
            raise bad("accumulate",
                      f"must divide train.batch ({self.batch}), got {self.accumulate}")
        from ganzoo.nn import augment

        try:
            augment.parse(self.augment)
        except ValueError as exc:
            raise bad("augment", str(exc)) from None
        if self.precision not in PRECISIONS:
            raise bad("precision",
                      f"must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")


@dataclass
class RegularizerSpec:
    """A regularizer in a recipe: its name and optional weight / interval overrides."""

    name: str
    weight: float | None = None
    interval: int | None = None


@dataclass
class ResolvedRecipe:
    """A recipe with every component looked up and every value typed."""

    name: str
    description: str
    paper: str
    generator_arch: str
    generator: GeneratorConfig
    discriminator_arch: str
    discriminator: DiscriminatorConfig
    loss: str
    regularizers: list[RegularizerSpec]
    train: TrainConfig
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``config.json``; :func:`resolve_spec` reads it back."""
        return {
            "name": self.name,
            "description": self.description,
            "paper": self.paper,
            "generator": {"arch": self.generator_arch, **_public(self.generator)},
            "discriminator": {"arch": self.discriminator_arch, **_public(self.discriminator)},
            "loss": self.loss,
            "regularizers": [dataclasses.asdict(r) for r in self.regularizers],
            "train": dataclasses.asdict(self.train),
        }


def _public(cfg: Any) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in DERIVED_FIELDS}


# -- type checking ---------------------------------------------------------------------------


def coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` as type ``hint``, or a GanzooError saying what was expected at ``where``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        last: GanzooError | None = None
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, where)
            except GanzooError as exc:
                last = exc
        assert last is not None
        raise last
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise GanzooError(f"{where} must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise GanzooError(f"{where} must be an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise GanzooError(f"{where} must be a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise GanzooError(f"{where} must be a string, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise GanzooError(f"{where} must be a list of {len(args)} values, got {value!r}")
        return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise GanzooError(f"{where} must be a list, got {value!r}")
        return [coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"unsupported config type {hint!r} at {where}")


def build_dataclass(cls: type, data: dict[str, Any], where: str,
                    forbidden: tuple[str, ...] = ()) -> Any:
    """Instantiate a config dataclass from a mapping, rejecting unknown keys and bad types."""
    if not isinstance(data, dict):
        raise GanzooError(f"{where} must be a mapping of keys to values, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key in forbidden:
            raise GanzooError(f"{where}.{key} is set from the data and train.{key}; "
                              f"set train.{key} instead")
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise GanzooError(
                f"{where} has no key '{key}': {hint}known keys: {', '.join(names)}"
            )
        kwargs[key] = coerce(value, hints[key], f"{where}.{key}")
    return cls(**kwargs)


# -- overrides -------------------------------------------------------------------------------


def parse_override(text: str) -> tuple[list[str], Any]:
    """``'train.lr=1e-4'`` -> (['train', 'lr'], '1e-4'); values are parsed as YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise GanzooError(
            f"bad --set '{text}': write KEY=VALUE, e.g. --set train.lr=1e-4 or --set loss=hinge"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise GanzooError(f"bad --set '{text}': the value is not valid YAML ({exc})") from exc
    return key.split("."), value


def apply_overrides(spec: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A deep copy of ``spec`` with each ``KEY=VALUE`` set (keys are validated later)."""
    spec = copy.deepcopy(spec)
    for text in overrides:
        path, value = parse_override(text)
        node = spec
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise GanzooError(f"bad --set '{text}': '{part}' is not a section")
            node = child
        node[path[-1]] = value
    return spec


# -- recipe resolution -----------------------------------------------------------------------

RECIPE_KEYS = ("description", "paper", "generator", "discriminator", "loss", "regularizers",
               "train", "name")


def check_recipe_shape(spec: Any, where: str) -> TrainConfig:
    """The checks a recipe passes before any component is looked up: known top-level keys,
    model sections that name an ``arch``, a ``loss`` that is a name, a valid ``train``
    section (returned, typed)."""
    if not isinstance(spec, dict):
        raise GanzooError(f"{where} must be a mapping, got {type(spec).__name__}")
    for key in spec:
        if key not in RECIPE_KEYS:
            close = difflib.get_close_matches(str(key), RECIPE_KEYS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise GanzooError(f"{where} has no key '{key}': {hint}"
                              f"known keys: {', '.join(RECIPE_KEYS[:-1])}")
    for key in ("generator", "discriminator"):
        if key not in spec:
            raise GanzooError(f"{where} needs a '{key}: {{arch: NAME, ...}}' section")
        if not isinstance(spec[key], dict) or not isinstance(spec[key].get("arch"), str):
            raise GanzooError(f"{where}: {key} must be a mapping with 'arch' naming an "
                              "architecture (see 'ganzoo zoo list --kind architecture')")
    if "loss" in spec and not isinstance(spec["loss"], str):
        raise GanzooError(f"{where}: loss must be a name such as 'hinge', got {spec['loss']!r}")
    train = build_dataclass(TrainConfig, spec.get("train") or {}, f"{where}: train")
    train.validate(where)
    return train


def resolve_spec(name: str, spec: dict[str, Any], registry: Any, source: str = "", *,
                 plugin: str | None = None,
                 overridden: Collection[str] = ()) -> ResolvedRecipe:
    """Turn a recipe mapping into typed configs, looking each component up in ``registry``.

    ``source`` (the file the recipe came from) is named in every error. ``plugin`` is the
    plugin the recipe comes from: a short name the recipe writes resolves in that plugin first
    (see ``Registry.resolve``), so another plugin's ``dcgan`` cannot break it. Names under
    ``overridden`` keys (``--set`` paths such as ``generator.arch`` or ``loss``) are the
    user's and resolve strictly: an ambiguous one is an error.
    """
    where = f"recipe '{name}'" + (f" (from {source})" if source else "")
    train = check_recipe_shape(spec, where)

    def by_user(key: str) -> bool:
        return any(key == path or key.startswith(path + ".") for path in overridden)

    def lookup(kind: str, value: str, at: str, prefer: str | None, user: bool) -> Any:
        if user:
            return registry.resolve(kind, value)
        try:
            return registry.resolve(kind, value, prefer=prefer)
        except AmbiguousNameError as exc:
            raise AmbiguousNameError(f"{at}: {exc}") from None

    models = {}
    for side in ("generator", "discriminator"):
        section = dict(spec[side] or {})
        arch_name = section.pop("arch", None)
        if not isinstance(arch_name, str):
            raise GanzooError(f"{where}: {side}.arch must name an architecture "
                              "(see 'ganzoo zoo list --kind architecture')")
        component = lookup("architecture", arch_name, f"{where}: {side}.arch", plugin,
                           by_user(f"{side}.arch"))
        cls = getattr(component.value, side)
        if cls is None:
            raise GanzooError(f"{where}: architecture '{component.full_name}' has no {side}")
        cfg = build_dataclass(cls.config_class, section, f"{where}: {side}",
                              forbidden=DERIVED_FIELDS)
        models[side] = (component.full_name, cfg)

    if "loss" in spec:
        loss_component = lookup("loss", spec["loss"], f"{where}: loss", plugin, by_user("loss"))
    else:  # ganzoo's default, not a name the recipe wrote: ganzoo's (or its replacement)
        loss_component = lookup("loss", "bce-ns", f"{where}: loss", "ganzoo", False)
    loss = loss_component.full_name

    def regularizer(value: str, at: str, companion: bool) -> Any:
        if companion:  # named by the loss's plugin
            return lookup("regularizer", value, at, loss_component.plugin, False)
        return lookup("regularizer", value, at, plugin, by_user("regularizers"))

    regs = _resolve_regularizers(where, loss_component, spec.get("regularizers"), registry,
                                 regularizer)

    return ResolvedRecipe(
        name=name,
        description=str(spec.get("description", "")),
        paper=str(spec.get("paper", "")),
        generator_arch=models["generator"][0],
        generator=models["generator"][1],
        discriminator_arch=models["discriminator"][0],
        discriminator=models["discriminator"][1],
        loss=loss,
        regularizers=regs,
        train=train,
    )


def _regularizer_spec(item: Any, where: str, registry: Any) -> RegularizerSpec:
    reg = (RegularizerSpec(item) if isinstance(item, str)
           else build_dataclass(RegularizerSpec, item, where))
    reg.name = registry.resolve("regularizer", reg.name).full_name
    if reg.interval is not None and reg.interval < 1:
        raise GanzooError(f"{where}.interval must be at least 1, got {reg.interval}")
    if reg.weight is not None and reg.weight < 0:
        raise GanzooError(f"{where}.weight must be >= 0 (0 turns the regularizer off), "
                          f"got {reg.weight}")
    return reg


def _resolve_regularizers(where: str, loss: Any, raw: Any, registry: Any,
                          lookup: Callable[[str, str, bool], Any]) -> list[RegularizerSpec]:
    """The loss's companion regularizers merged with the recipe's, every value filled in.

    A recipe entry naming a companion overrides the fields it sets (``weight: 0`` turns it
    off); the result states exactly what the training core will run. ``lookup(name, at,
    companion)`` finds a regularizer by name: a companion's in the loss's plugin first.
    """

    def named(item: Any, at: str, companion: bool) -> Any:
        """``item`` with its name made full (a malformed item is _regularizer_spec's to report)."""
        name = item.get("name") if isinstance(item, Mapping) else item
        if not isinstance(name, str):
            return item
        full = lookup(name, at, companion).full_name
        return {**item, "name": full} if isinstance(item, Mapping) else full

    merged: dict[str, RegularizerSpec] = {}
    for i, item in enumerate(loss.value.regularizers):
        at = f"{where}: loss '{loss.full_name}' regularizers[{i}]"
        try:
            reg = _regularizer_spec(named(item, at, True), at, registry)
        except UnknownComponentError as exc:
            raise GanzooError(f"{at}: {exc}; the plugin providing the loss needs it") from exc
        merged[reg.name] = reg
    raw = [] if raw in (None, "") else raw if isinstance(raw, list) else [raw]  # "regularizers="
    seen: set[str] = set()
    for i, item in enumerate(raw):
        at = f"{where}: regularizers[{i}]"
        reg = _regularizer_spec(named(item, at, False), at, registry)
        if reg.name in seen:
            raise GanzooError(f"{where}: regularizers lists '{reg.name}' twice; "
                              "give it once with its weight and interval")
        seen.add(reg.name)
        base = merged.get(reg.name)
        if base is not None:
            reg = RegularizerSpec(reg.name,
                                  base.weight if reg.weight is None else reg.weight,
                                  base.interval if reg.interval is None else reg.interval)
        merged[reg.name] = reg
    for reg in merged.values():
        defaults = registry.get("regularizer", reg.name)
        reg.weight = float(defaults.weight) if reg.weight is None else reg.weight
        reg.interval = defaults.interval if reg.interval is None else reg.interval
    return list(merged.values())


def bare_architecture_spec(arch: str) -> dict[str, Any]:
    """The recipe ``--arch NAME`` means when NAME is an architecture, not a recipe."""
    return {
        "description": f"architecture '{arch}' with its defaults",
        "generator": {"arch": arch},
        "discriminator": {"arch": arch},
    }


def resolve_recipe(name: str, overrides: list[str] | None = None,
                   registry: Any = None) -> ResolvedRecipe:
    """What ``ganzoo train --arch NAME --set ...`` trains: a recipe, or a bare architecture."""
    from ganzoo.errors import UnknownComponentError
    from ganzoo.plugins import get_registry

    registry = registry or get_registry()
    try:
        recipe = registry.resolve("recipe", name)
        spec, full, plugin = dict(recipe.value.spec), recipe.name, recipe.plugin
        source = getattr(recipe.value, "source", "")
    except UnknownComponentError:
        try:
            arch = registry.resolve("architecture", name)
        except UnknownComponentError:
            known = sorted(set(registry.names("recipe")) | set(registry.names("architecture")))
            close = difflib.get_close_matches(name.split(":")[-1], known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise UnknownComponentError(
                f"unknown arch '{name}'.{hint} Known recipes and architectures: "
                f"{', '.join(known)} (see 'ganzoo zoo list')"
            ) from None
        spec, full, source = bare_architecture_spec(arch.full_name), arch.name, ""
        plugin = arch.plugin
    if overrides:  # an error may be the override's, not the file's: name the recipe only
        keys = [".".join(parse_override(text)[0]) for text in overrides]
        return resolve_spec(full, apply_overrides(spec, overrides), registry, plugin=plugin,
                            overridden=keys)
    return resolve_spec(full, spec, registry, source, plugin=plugin)
