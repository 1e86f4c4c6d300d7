"""The name table: the component types plugins register (each checks itself), and how a
name resolves to one of them.

Every component has a full name ``plugin:name`` (``ganzoo:dcgan``). A short name works while
exactly one plugin provides it; if two do, using it is an error naming both — unless one of
them explicitly declared ``replaces=`` the other. Nothing is ever silently overridden.

A short name written inside a recipe is read in the recipe's own plugin first (``prefer``), so
installing a plugin with a ``dcgan`` of its own does not break ganzoo's ``dcgan-hinge``.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ganzoo import loss_params
from ganzoo.config import DiscriminatorConfig, GeneratorConfig
from ganzoo.errors import AmbiguousNameError, GanzooError, UnknownComponentError

KINDS = ("architecture", "loss", "regularizer", "dataset", "recipe", "feature_extractor",
         "weights")
PLURALS = {"architecture": "architectures", "loss": "losses", "regularizer": "regularizers",
           "dataset": "datasets", "recipe": "recipes", "feature_extractor": "feature extractors",
           "weights": "pretrained weights"}


@dataclass(frozen=True)
class Architecture:
    """A generator and/or discriminator family (``nn.Module`` classes with ``config_class``)."""

    name: str
    generator: type | None = None
    discriminator: type | None = None
    description: str = ""
    paper: str = ""

    def validate(self, where: str) -> None:
        """A GanzooError naming ``where`` if a class is missing or has no proper config."""
        if self.generator is None and self.discriminator is None:
            raise GanzooError(f"{where} provides neither a generator nor a discriminator")
        for side, base in (("generator", GeneratorConfig),
                           ("discriminator", DiscriminatorConfig)):
            cls = getattr(self, side)
            if cls is None:
                continue
            if not isinstance(cls, type):
                raise GanzooError(f"{where}: {side} must be a class built as cls(config), "
                                  f"got {cls!r}")
            config_class = getattr(cls, "config_class", None)
            if config_class is None:
                raise GanzooError(f"{where}: the {side} class needs a 'config_class' dataclass")
            if not (isinstance(config_class, type) and dataclasses.is_dataclass(config_class)
                    and issubclass(config_class, base)):
                raise GanzooError(f"{where}: {cls.__name__}.config_class must be a @dataclass "
                                  f"deriving from ganzoo.config.{base.__name__}")


@dataclass(frozen=True)
class Loss:
    """An adversarial loss on raw discriminator outputs (see ``hookspecs.register_losses``)."""

    name: str
    d_loss: Callable[..., Any]
    g_loss: Callable[..., Any]
    uses_real_in_g: bool = False
    #: companion regularizers, each a name or ``{name, weight, interval}``; recipe resolution
    #: merges them into the recipe's ``regularizers`` (so ``config.json`` shows them).
    regularizers: tuple[str | Mapping[str, Any], ...] = ()
    #: a constraint ``after_d_step(D)`` the core calls after every D optimizer step.
    after_d_step: Callable[[Any], None] | None = None
    description: str = ""
    paper: str = ""
    #: typed parameters and their defaults (``{"a": 0.0, "b": 1.0}``; a value's type is the
    #: parameter's): a recipe sets them as ``loss: {name: lsgan, a: -1}``, and d_loss / g_loss
    #: receive, as keyword arguments, the ones their signatures name (:meth:`with_params`).
    params: Mapping[str, bool | int | float | str] = field(default_factory=dict)

    def validate(self, where: str) -> None:
        if not (callable(self.d_loss) and callable(self.g_loss)):
            raise GanzooError(f"{where}: d_loss and g_loss must be callables")
        loss_params.check_declared(self.params, self.d_loss, self.g_loss, where)
        if self.after_d_step is not None and not callable(self.after_d_step):
            raise GanzooError(f"{where}: after_d_step must be a callable after_d_step(D) or None")
        companions = self.regularizers
        if not isinstance(companions, tuple) or not all(
                isinstance(item, str) or (isinstance(item, Mapping)
                                          and isinstance(item.get("name"), str))
                for item in companions):
            raise GanzooError(f"{where}: regularizers must be a tuple of regularizer names or "
                              f"{{'name': ..., 'weight': ..., 'interval': ...}} mappings, "
                              f"got {companions!r}")

    def with_params(self, values: Mapping[str, Any]) -> Loss:
        """This loss with ``values`` (a resolved recipe's) bound into d_loss and g_loss: each
        gets the parameters its signature names, or all of them if it takes ``**kwargs``."""
        return dataclasses.replace(self, d_loss=loss_params.bind(self.d_loss, values),
                                   g_loss=loss_params.bind(self.g_loss, values))

    def describe_params(self, values: Mapping[str, Any] | None = None) -> str:
        """``a 0, b 1, c 1``: the parameters with ``values`` (default: their defaults)."""
        return loss_params.describe({**self.params, **(values or {})})

    def companions(self) -> str:
        """One line naming what the loss brings along besides its d/g losses ('' if nothing)."""
        parts = []
        for item in self.regularizers:
            if isinstance(item, str):
                parts.append(f"+ regularizer {item}")
            else:
                opts = ", ".join(f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}"
                                 for k, v in item.items() if k != "name")
                parts.append(f"+ regularizer {item['name']}" + (f" ({opts})" if opts else ""))
        if self.after_d_step is not None:
            parts.append(f"after each D step: {describe_callable(self.after_d_step)}")
        return "; ".join(parts)


def describe_callable(fn: Callable[..., Any]) -> str:
    """A short readable name for a callable: a function's name, or an object's repr."""
    name = getattr(fn, "__qualname__", None)
    return name if isinstance(name, str) else repr(fn)


@dataclass(frozen=True)
class Regularizer:
    """A discriminator penalty run every ``interval`` D steps, weighted by ``weight``."""

    name: str
    fn: Callable[..., Any]
    weight: float = 1.0
    interval: int = 1
    description: str = ""
    paper: str = ""

    def validate(self, where: str) -> None:
        if not callable(self.fn):
            raise GanzooError(f"{where}: fn must be a callable fn(D, real, fake, labels)")
        if not isinstance(self.interval, int) or isinstance(self.interval, bool) \
                or self.interval < 1:
            raise GanzooError(f"{where}: interval must be an integer >= 1, "
                              f"got {self.interval!r}")
        if not isinstance(self.weight, (int, float)) or isinstance(self.weight, bool):
            raise GanzooError(f"{where}: weight must be a number, got {self.weight!r}")


@dataclass(frozen=True)
class Dataset:
    """A named dataset: ``load(resolution) -> ganzoo.data.ImageData``."""

    name: str
    load: Callable[..., Any]
    description: str = ""

    def validate(self, where: str) -> None:
        if not callable(self.load):
            raise GanzooError(f"{where}: load must be callable")


@dataclass(frozen=True)
class Recipe:
    """A zoo entry: components, their configs and training defaults, as plain data."""

    name: str
    spec: Mapping[str, Any]
    description: str = ""
    paper: str = ""
    source: str = ""  # the file it was read from, named in its errors

    def validate(self, where: str) -> None:
        """Checked at registration, where :func:`ganzoo.config.check_recipe_shape` has run."""


@dataclass(frozen=True)
class FeatureExtractor:
    """A fixed network the metrics measure images with (see ``register_feature_extractors``)."""

    name: str
    load: Callable[..., Any]
    sha256: str = ""
    channels: tuple[int, ...] = (1, 3)
    input_range: tuple[float, float] = (-1.0, 1.0)
    resize: str = ""
    #: metric -> the name its score is reported under ("fd" -> "fid"); default "fd-NAME".
    score_names: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def validate(self, where: str) -> None:
        if not callable(self.load):
            raise GanzooError(f"{where}: load must be a callable load(**options) returning an "
                              "object with features(x)")
        if not (isinstance(self.channels, tuple) and self.channels
                and all(c in (1, 3) for c in self.channels)):
            raise GanzooError(f"{where}: channels must be a tuple of 1 and/or 3, "
                              f"got {self.channels!r}")
        low_high = self.input_range
        if not (isinstance(low_high, tuple) and len(low_high) == 2
                and all(isinstance(v, (int, float)) for v in low_high)
                and low_high[0] < low_high[1]):
            raise GanzooError(f"{where}: input_range must be (low, high), got {low_high!r}")
        if not isinstance(self.sha256, str) or not isinstance(self.score_names, Mapping):
            raise GanzooError(f"{where}: sha256 must be a string and score_names a mapping")

    def score_name(self, metric: str) -> str:
        return self.score_names.get(metric, f"{metric}-{self.name}")


_SHA256 = re.compile(r"[0-9a-f]{64}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.safetensors")
#: ``hf://OWNER/REPO/FILE`` or ``hf://OWNER/REPO@REVISION/FILE`` (FILE may hold folders)
HF_REFERENCE = re.compile(r"hf://([A-Za-z0-9][\w.-]*)/([\w.-]+)(?:@([\w.-]+))?/(\S+)")


@dataclass(frozen=True)
class Weights:
    """Pretrained generator weights as data: what the file is, where it comes from, how it was
    made and how good it is. The file is a ``generator.safetensors`` (ganzoo's format)."""

    name: str  # the tag, e.g. "dcgan.fmnist"
    file: str  # the file name, e.g. "dcgan.fmnist.safetensors"
    sha256: str
    size: int
    #: where to get it, tried in order: an absolute path (a file inside the plugin's
    #: package), ``https://`` (or ``http://``) URLs, ``hf://OWNER/REPO/FILE``
    sources: tuple[str, ...]
    recipe: str = ""
    dataset: str = ""
    command: str = ""  # the training command that made it
    steps: int = 0
    #: measured scores, e.g. {"fd-fmnist": 21.4}, measured as ``protocol`` says
    scores: Mapping[str, float] = field(default_factory=dict)
    protocol: str = ""
    license: str = ""
    description: str = ""

    def validate(self, where: str) -> None:
        if not isinstance(self.file, str) or not _FILE_NAME.fullmatch(self.file):
            raise GanzooError(f"{where}: file must be a plain file name ending in .safetensors "
                              f"(letters, digits, '.', '_', '-'), got {self.file!r}")
        if not isinstance(self.sha256, str) or not _SHA256.fullmatch(self.sha256):
            raise GanzooError(f"{where}: sha256 must be 64 lowercase hex digits (sha256sum of "
                              f"the file), got {self.sha256!r}")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 1:
            raise GanzooError(f"{where}: size must be the file's size in bytes, got "
                              f"{self.size!r}")
        if not (isinstance(self.sources, tuple) and self.sources
                and all(isinstance(s, str) for s in self.sources)):
            raise GanzooError(f"{where}: sources must be a non-empty tuple of strings (a path "
                              f"inside the package, https:// URLs, hf://OWNER/REPO/FILE), got "
                              f"{self.sources!r}")
        for source in self.sources:
            if source.startswith("hf://"):
                if not HF_REFERENCE.fullmatch(source):
                    raise GanzooError(f"{where}: source {source!r} is not hf://OWNER/REPO/FILE "
                                      "(or hf://OWNER/REPO@REVISION/FILE)")
            elif not (source.startswith(("https://", "http://")) or os.path.isabs(source)):
                raise GanzooError(f"{where}: source {source!r} must be an absolute path (e.g. "
                                  "str(Path(__file__).parent / FILE)), an https:// URL or "
                                  "hf://OWNER/REPO/FILE")
        if not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 0:
            raise GanzooError(f"{where}: steps must be a non-negative integer, got "
                              f"{self.steps!r}")
        if not (isinstance(self.scores, Mapping) and all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                for k, v in self.scores.items())):
            raise GanzooError(f"{where}: scores must map score names to numbers, e.g. "
                              f"{{'fd-fmnist': 21.4}}, got {self.scores!r}")
        for key in ("recipe", "dataset", "command", "protocol", "license", "description"):
            if not isinstance(getattr(self, key), str):
                raise GanzooError(f"{where}: {key} must be a string, got "
                                  f"{getattr(self, key)!r}")


@dataclass(frozen=True)
class Component:
    """One registered thing, with who provided it."""

    kind: str
    plugin: str
    distribution: str
    value: Any
    replaces: str | None = None

    @property
    def name(self) -> str:
        return self.value.name

    @property
    def full_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    @property
    def description(self) -> str:
        return getattr(self.value, "description", "")


@dataclass
class NameTable:
    """All components by kind and full name."""

    _items: dict[str, dict[str, Component]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    #: recipes the plugin host left out because they failed their checks: full name -> why
    dropped_recipes: dict[str, str] = field(default_factory=dict)

    def add(self, component: Component) -> None:
        table = self._items[component.kind]
        if component.full_name in table:
            raise GanzooError(
                f"plugin '{component.plugin}' registers the {component.kind} "
                f"'{component.name}' twice; give each component a distinct name"
            )
        table[component.full_name] = component

    def remove_plugin(self, plugin: str) -> None:
        for table in self._items.values():
            for full_name in [n for n, c in table.items() if c.plugin == plugin]:
                del table[full_name]
        for full_name in [n for n in self.dropped_recipes if n.split(":")[0] == plugin]:
            del self.dropped_recipes[full_name]

    def drop_recipe(self, full_name: str, reason: str) -> None:
        """Take a recipe out (or note that registering refused it), keeping the reason."""
        self._items["recipe"].pop(full_name, None)
        self.dropped_recipes[full_name] = reason

    def why_dropped(self, name: str) -> str | None:
        """Why the recipe ``name`` (short or full) was left out, or None if none was."""
        found = [(full, why) for full, why in self.dropped_recipes.items()
                 if name in (full, full.split(":", 1)[1])]
        if len(found) != 1:
            return None
        full, why = found[0]
        return (f"recipe '{full}' was dropped when its plugin loaded: {why} (the plugin's "
                "other components work; 'ganzoo plugins list' shows what was dropped)")

    def components(self, kind: str, pattern: str = "*") -> list[Component]:
        """Components of one kind whose short or full name matches a shell-style pattern."""
        found = [
            c
            for c in self._items[kind].values()
            if fnmatch.fnmatch(c.name, pattern) or fnmatch.fnmatch(c.full_name, pattern)
        ]
        return sorted(found, key=lambda c: (c.name, c.full_name))

    def names(self, kind: str) -> list[str]:
        return sorted({c.name for c in self._items[kind].values()})

    def resolve(self, kind: str, name: str, prefer: str | None = None) -> Component:
        """The component a name means; a clear error when it means none or several.

        Candidates another one explicitly replaces are dropped first. If several remain and
        exactly one comes from the plugin ``prefer``, that one is meant: a recipe's short names
        are read in its own plugin first. Names a user types are resolved without ``prefer``.
        """
        table = self._items[kind]
        if ":" in name:
            if name in table:
                return table[name]
            raise self._unknown(kind, name)
        candidates = [c for c in table.values() if c.name == name]
        replaced = {c.replaces for c in candidates if c.replaces}
        candidates = [c for c in candidates if c.full_name not in replaced]
        if len(candidates) > 1 and prefer is not None:
            own = [c for c in candidates if c.plugin == prefer]
            if len(own) == 1:
                return own[0]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise self._unknown(kind, name)
        providers = ", ".join(
            f"{c.full_name} (from {c.distribution})" for c in sorted(candidates, key=str)
        )
        full_names = " or ".join(f"'{c.full_name}'" for c in sorted(candidates, key=str))
        others = sorted({c.plugin for c in candidates} - {"ganzoo"})
        raise AmbiguousNameError(
            f"the {kind} name '{name}' is provided by more than one plugin: {providers}; "
            f"use a full name ({full_names}), or turn a plugin off with "
            f"GANZOO_DISABLE_PLUGINS={','.join(others)}"
        )

    def get(self, kind: str, name: str) -> Any:
        return self.resolve(kind, name).value

    def _unknown(self, kind: str, name: str) -> UnknownComponentError:
        known = self.names(kind)
        close = difflib.get_close_matches(name.split(":")[-1], known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return UnknownComponentError(
            f"unknown {kind} '{name}'.{hint} Known {PLURALS[kind]}: {', '.join(known) or '(none)'} "
            f"(see 'ganzoo zoo list')"
        )
