"""Names -> components: what every plugin registered, and how a name resolves.

Every component has a full name ``plugin:name`` (``ganzoo:dcgan``). A short name works while
exactly one plugin provides it; if two do, using it is an error naming both — unless one of
them explicitly declared ``replaces=`` the other. Nothing is ever silently overridden.

A short name written inside a recipe is read in the recipe's own plugin first (``prefer``), so
installing a plugin with a ``dcgan`` of its own does not break ganzoo's ``dcgan-hinge``.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ganzoo.errors import AmbiguousNameError, GanzooError, UnknownComponentError

KINDS = ("architecture", "loss", "regularizer", "dataset", "recipe", "feature_extractor")
PLURALS = {"architecture": "architectures", "loss": "losses", "regularizer": "regularizers",
           "dataset": "datasets", "recipe": "recipes", "feature_extractor": "feature extractors"}


@dataclass(frozen=True)
class Architecture:
    """A generator and/or discriminator family (``nn.Module`` classes with ``config_class``)."""

    name: str
    generator: type | None = None
    discriminator: type | None = None
    description: str = ""
    paper: str = ""


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


@dataclass(frozen=True)
class Dataset:
    """A named dataset: ``load(resolution) -> ganzoo.data.ImageData``."""

    name: str
    load: Callable[..., Any]
    description: str = ""


@dataclass(frozen=True)
class Recipe:
    """A zoo entry: components, their configs and training defaults, as plain data."""

    name: str
    spec: Mapping[str, Any]
    description: str = ""
    paper: str = ""
    source: str = ""  # the file it was read from, named in its errors


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

    def score_name(self, metric: str) -> str:
        return self.score_names.get(metric, f"{metric}-{self.name}")


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
class Registry:
    """All components by kind and full name."""

    _items: dict[str, dict[str, Component]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )

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
