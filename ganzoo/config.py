"""Typed configs: the dataclasses, the converter that fills them, ``--set`` parsing and the
shape checks a recipe passes before any component is looked up.

Every key is checked against a dataclass; an unknown key, a wrong type or an out-of-range
value is a :class:`GanzooError` naming the recipe, the key and the fix. Looking components
up (recipe resolution) is :mod:`ganzoo.recipes`' job.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Union

import yaml

from ganzoo.errors import GanzooError
from ganzoo.loss_params import loss_entry

#: ``train.precision`` values (resolved for a device by :func:`ganzoo.devices.choose_fast_path`).
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SCHEDULES = ("constant", "cosine")
#: What ``ganzoo sample`` takes: fp16 autocast is a training setting for GPUs.
SAMPLE_PRECISIONS = ("auto", "fp32", "bf16")



@dataclass
class GeneratorConfig:
    """Fields every generator config has; architectures subclass it with their own."""

    #: Latent size: G takes z of shape [N, nz].
    nz: int = 100
    #: Output image size (set from train.resolution).
    resolution: int = 32
    #: Output channels (set from the data: 1 grey, 3 colour).
    channels: int = 1
    #: Classes of a conditional G (set from the data with train.conditional); 0: none.
    num_classes: int = 0


@dataclass
class DiscriminatorConfig:
    """Fields every discriminator config has; architectures subclass it with their own."""

    #: Input image size (set from train.resolution).
    resolution: int = 32
    #: Input channels (set from the data).
    channels: int = 1
    #: Classes of a conditional D (set from the data with train.conditional); 0: none.
    num_classes: int = 0


# Set from the data and ``train.resolution``, never by hand in a model section.
DERIVED_FIELDS = ("resolution", "channels", "num_classes")


@dataclass
class TrainConfig:
    """Training defaults; a recipe's ``train:`` section and ``--set train.KEY=V`` override them."""

    #: Image size in pixels, square, a power of two (the data is resized to it).
    resolution: int = 32
    #: Images per step per process (D sees this many real images per D step).
    batch: int = 64
    #: Train until this step.
    steps: int = 5000
    #: Adam learning rate of G (and of D unless lr_d is set).
    lr: float = 2e-4
    #: D's own learning rate (two time-scale update rule); unset: lr.
    lr_d: float | None = None
    #: Adam betas of both optimizers.
    betas: tuple[float, float] = (0.5, 0.999)
    #: D steps per G step.
    n_critic: int = 1
    #: EMA half-life in thousands of images (StyleGAN2's ema_kimg); 0: no averaging.
    ema_kimg: float = 10.0
    #: The EMA half-life is at most this times the images seen so far (ramp-up); None: off.
    ema_rampup: float | None = 0.05
    #: A fixed per-step EMA decay instead of ema_kimg (warmed up over the first steps).
    ema_decay: float | None = None
    #: Dataset name, image folder, .npz or IDX file (--data overrides it).
    dataset: str = "fashion-mnist"
    #: Class-conditional training: labels from the data go to G and D.
    conditional: bool = False
    #: Seed of weights, data order, latents and sample grids.
    seed: int = 0
    #: auto (bf16 where the CPU/GPU has it), fp32, bf16 or fp16 (GPU, with loss scaling).
    precision: str = "auto"
    #: Split each batch into this many parts and accumulate their gradients (less memory).
    accumulate: int = 1
    #: Steps between sample grids in RUN/samples.
    sample_every: int = 500
    #: Steps between checkpoints.
    checkpoint_every: int = 500
    #: Step checkpoints kept (older ones are deleted; best.safetensors is never).
    keep_checkpoints: int = 3
    #: Steps between lines of metrics.jsonl (losses, learning rates, img/s).
    log_every: int = 10
    #: Steps between in-run evaluations (fd/kd/pr, keeping checkpoints/best.safetensors); 0: off.
    eval_every: int = 0
    #: Generated images per in-run evaluation.
    eval_n: int = 2000
    #: Feature extractor of in-run evaluations.
    eval_extractor: str = "fmnist"
    #: DiffAugment operations on everything D sees, e.g. "translation,cutout"; empty: off.
    augment: str = ""
    #: Also write TensorBoard event files into RUN/tensorboard (the tensorboard extra).
    tensorboard: bool = False
    #: "cosine": lr and every regularizer weight follow a half cosine from their value down
    #: to lr_final / reg_final times it at train.steps (R3GAN's schedule); "constant": stay.
    schedule: str = "constant"
    #: With schedule cosine: the final lr as a fraction of lr.
    lr_final: float = 0.25
    #: With schedule cosine: the final regularizer weights as a fraction of theirs.
    reg_final: float = 0.1

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
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise bad("ema_decay", f"must be in [0, 1) or null, got {self.ema_decay}")
        if self.ema_kimg < 0:
            raise bad("ema_kimg", f"must be >= 0 (0: no averaging), got {self.ema_kimg}")
        if self.ema_rampup is not None and not self.ema_rampup > 0:
            raise bad("ema_rampup", f"must be > 0 or null (no ramp-up), got {self.ema_rampup}")
        if self.batch % self.accumulate:
            raise bad("accumulate",
                      f"must divide train.batch ({self.batch}), got {self.accumulate}")
        from ganzoo.nn import augment  # here, so that reading configs does not import torch

        try:
            augment.parse(self.augment)
        except ValueError as exc:
            raise bad("augment", str(exc)) from None
        if self.schedule not in SCHEDULES:
            raise bad("schedule", f"must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        for key in ("lr_final", "reg_final"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise bad(key, f"must be a fraction in [0, 1], got {getattr(self, key)}")
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
    #: every parameter of the loss, defaults filled in; config.json records them all
    loss_params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``config.json``; :func:`resolve_spec` reads it back."""
        return {
            "name": self.name,
            "description": self.description,
            "paper": self.paper,
            "generator": {"arch": self.generator_arch, **_public(self.generator)},
            "discriminator": {"arch": self.discriminator_arch, **_public(self.discriminator)},
            "loss": {"name": self.loss, **self.loss_params} if self.loss_params else self.loss,
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


@dataclass(frozen=True)
class Override:
    """One recipe value set from outside: ``--set KEY=VALUE`` (``text`` is what the user typed,
    named in errors) or a typed CLI option such as ``--batch 32``."""

    path: tuple[str, ...]
    value: Any
    text: str = ""

    @classmethod
    def setting(cls, key: str, value: Any) -> Override:
        """A typed value for a dotted key, e.g. ``Override.setting("train.batch", 32)``."""
        return cls(tuple(key.split(".")), value, f"{key}={value}")

    @property
    def key(self) -> str:
        return ".".join(self.path)


def parse_override(text: str) -> Override:
    """``'train.lr=1e-4'`` -> the path ``("train", "lr")`` and the value ``1e-4``; values are
    parsed as YAML."""
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
    return Override(tuple(key.split(".")), value, text)


def apply_overrides(spec: dict[str, Any], overrides: Iterable[Override]) -> dict[str, Any]:
    """A deep copy of ``spec`` with each override set (keys are validated later)."""
    spec = copy.deepcopy(spec)
    for override in overrides:
        node = spec
        for part in override.path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise GanzooError(f"bad --set '{override.text}': '{part}' is not a section")
            node = child
        node[override.path[-1]] = override.value
    return spec


# -- shape checks ----------------------------------------------------------------------------

RECIPE_KEYS = ("description", "paper", "generator", "discriminator", "loss", "regularizers",
               "train", "name")


def check_recipe_shape(spec: Any, where: str) -> TrainConfig:
    """The checks a recipe passes before any component is looked up: known top-level keys,
    model sections that name an ``arch``, a ``loss`` that is a name (or a mapping with one),
    a valid ``train`` section (returned, typed)."""
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
    if "loss" in spec:
        loss_entry(spec["loss"], where)
    train = build_dataclass(TrainConfig, spec.get("train") or {}, f"{where}: train")
    train.validate(where)
    return train


# Widths and latent sizes are checked before a model is built, so that a typo or an edited
# file is one clear error instead of a traceback from deep inside torch, or an attempt to
# allocate terabytes. The rule goes by field name, in every architecture's config (plugins'
# too): far above any real GAN (StyleGAN's widths are 512), far below what breaks memory.
MAX_SIZE = 65536
SIZE_FIELDS = {"nz": 1, "ngf": 1, "ndf": 1, "channels": 1, "num_classes": 0}  # -> the minimum


def check_sizes(side: str, config: Any, arch: str, fix: str | None = None) -> None:
    """Refuse a size-like int field (:data:`SIZE_FIELDS`) outside [minimum, MAX_SIZE];
    ``fix`` says how to correct it where the config came from a file."""
    if not dataclasses.is_dataclass(config):
        return
    for f in dataclasses.fields(config):
        low, value = SIZE_FIELDS.get(f.name), getattr(config, f.name)
        if low is None or not isinstance(value, int) or isinstance(value, bool):
            continue
        if low <= value <= MAX_SIZE:
            continue
        if fix is None and f.name in DERIVED_FIELDS:
            fix = "it is set from the data, so the config it came from was edited or damaged"
        elif fix is None:
            default = f" (the default is {f.default})" if isinstance(f.default, int) else ""
            fix = f"set a sensible size with --set {side}.{f.name}=N{default}"
        raise GanzooError(f"{side}.{f.name} must be between {low} and {MAX_SIZE}, got {value} "
                          f"(architecture '{arch}'); {fix}")
