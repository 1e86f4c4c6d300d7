"""Calling one plugin's hooks: the checks before pluggy sees it, and the ``register``
callback that turns what it registers into checked components."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import pluggy

from ganzoo import hookspecs
from ganzoo.components import (
    Architecture,
    Component,
    Dataset,
    FeatureExtractor,
    Loss,
    Recipe,
    Regularizer,
    Weights,
)
from ganzoo.config import check_recipe_shape
from ganzoo.errors import GanzooError

# hook name -> (component kind, constructor of the registered value)
HOOK_KINDS: dict[str, tuple[str, Callable[..., Any]]] = {
    "register_architectures": ("architecture", Architecture),
    "register_losses": ("loss", Loss),
    "register_regularizers": ("regularizer", Regularizer),
    "register_datasets": ("dataset", Dataset),
    "register_recipes": ("recipe", Recipe),
    "register_feature_extractors": ("feature_extractor", FeatureExtractor),
    "register_weights": ("weights", Weights),
}


def make_register(kind: str, build: Callable[..., Any], out: list[Component],
                   plugin: str, distribution: str,
                   dropped: dict[str, str] | None = None) -> Callable[..., None]:
    """The ``register`` callback handed to one plugin's hook; validates what it receives.

    A malformed recipe raises, failing the plugin, unless ``dropped`` is given: then it is
    left out and recorded there (full name -> reason), and the plugin's other components stay.
    """

    def register(name: Any, value: Any = None, /, *, replaces: str | None = None,
                 **fields: Any) -> None:
        if not isinstance(name, str) or not name or ":" in name or "/" in name:
            raise GanzooError(
                f"plugin '{plugin}' registered a {kind} with an invalid name {name!r}: "
                "names are non-empty strings without ':' or '/'"
            )
        if replaces is not None:
            _check_replaces(kind, name, replaces, plugin)
        if kind == "recipe":
            source = str(fields.get("source", ""))
            where = f"plugin '{plugin}' recipe '{name}'" + (f" (from {source})" if source
                                                            else "")
            try:
                if not isinstance(value, dict):
                    raise GanzooError(f"{where} is a {type(value).__name__}; a recipe is a "
                                      "mapping like a registry.yaml entry")
                # what `ganzoo zoo list` reads from every recipe must be there before it is
                # listed
                check_recipe_shape(value, where)
            except GanzooError as exc:
                if dropped is None:
                    raise
                dropped[f"{plugin}:{name}"] = str(exc)
                return
            fields = {
                "spec": value,
                "description": str(value.get("description", "")),
                "paper": str(value.get("paper", "")),
                "source": source,
            }
        elif value is not None:
            raise GanzooError(f"plugin '{plugin}' registered {kind} '{name}' with a positional "
                              f"value; pass its parts by keyword (see docs/hooks.md)")
        if kind == "loss":
            if isinstance(fields.get("regularizers"), list):
                fields["regularizers"] = tuple(fields["regularizers"])
            if fields.get("params", {}) is None:
                del fields["params"]
            elif isinstance(fields.get("params"), Mapping):
                fields["params"] = dict(fields["params"])
        if kind == "feature_extractor":
            if fields.get("score_names", {}) is None:
                del fields["score_names"]
            for key in ("channels", "input_range"):
                if isinstance(fields.get(key), list):
                    fields[key] = tuple(fields[key])
        if kind == "weights":
            if isinstance(fields.get("sources"), (list, str)):
                fields["sources"] = (tuple(fields["sources"])
                                     if isinstance(fields["sources"], list)
                                     else (fields["sources"],))
            if fields.get("scores", {}) is None:
                del fields["scores"]
        try:
            component_value = build(name=name, **fields)
        except TypeError as exc:
            raise GanzooError(f"plugin '{plugin}' registered {kind} '{name}' badly: {exc}") from exc
        component_value.validate(f"plugin '{plugin}' {kind} '{name}'")
        out.append(Component(kind, plugin, distribution, component_value, replaces))

    return register


def _check_replaces(kind: str, name: str, replaces: Any, plugin: str) -> None:
    where = f"plugin '{plugin}' {kind} '{name}'"
    if not isinstance(replaces, str) or replaces.count(":") != 1:
        raise GanzooError(f"{where}: replaces={replaces!r} must be the full name of the {kind} "
                          f"it replaces, such as 'ganzoo:{name}'")
    owner, short = replaces.split(":")
    if short != name:
        raise GanzooError(f"{where} replaces '{replaces}' but is named '{name}': a replacement "
                          f"takes over a short name, so register it as '{short}'")
    if owner == plugin:
        raise GanzooError(f"{where} cannot replace its own plugin's '{replaces}'")


def hook_names() -> list[str]:
    return sorted(n for n in dir(hookspecs) if n.startswith("register_"))


def _required_args(function: Any) -> list[str]:
    """Parameters without defaults: the ones pluggy checks against the spec."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
             inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in parameters if p.kind in kinds and p.default is p.empty]


def implemented_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(
        name for name in dir(plugin)
        if pm.parse_hookimpl_opts(plugin, name) is not None
    )


def check_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """The hooks ``plugin`` implements, or a GanzooError for a misspelled or mis-signed one.

    Checked before pluggy sees the plugin, so the reason reads as a fix, not as pluggy's
    multi-line validation report.
    """
    specs = hook_names()
    hooks = implemented_hooks(pm, plugin)
    for hook in hooks:
        if hook not in specs:
            close = difflib.get_close_matches(hook, specs, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise GanzooError(f"'{hook}' is not a ganzoo hook{hint}; the hooks are listed in "
                              "docs/hooks.md")
        expected = _required_args(getattr(hookspecs, hook))
        unknown = [a for a in _required_args(getattr(plugin, hook)) if a not in expected]
        if unknown:
            raise GanzooError(
                f"hook '{hook}' takes {', '.join(repr(a) for a in unknown)}, but ganzoo calls "
                f"it as {hook}({', '.join(expected)}): rename the parameter"
            )
    if not hooks:
        unmarked = [n for n in specs if callable(getattr(plugin, n, None))]
        if unmarked:
            raise GanzooError(f"implements no ganzoo hook: mark {', '.join(unmarked)} with "
                              "@ganzoo.hookimpl")
        raise GanzooError("implements no ganzoo hook; see docs/writing-a-plugin.md")
    return hooks


def call_hook(impl: Any, hook: str, **arguments: Any) -> None:
    """Call one plugin's implementation with the arguments it asks for."""
    try:
        impl.function(**{k: v for k, v in arguments.items() if k in impl.argnames})
    except GanzooError:
        raise
    except Exception as exc:
        raise GanzooError(f"{hook} raised {type(exc).__name__}: {exc}") from exc


def collect(pm: pluggy.PluginManager, plugin: object, namespace: str,
            distribution: str, dropped: dict[str, str] | None = None) -> list[Component]:
    """Call each of one plugin's register hooks; returns what it registered (malformed
    recipes go to ``dropped`` when it is given, see :func:`make_register`)."""
    found: list[Component] = []
    for hook_name, (kind, build) in HOOK_KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin:
                call_hook(impl, hook_name, register=make_register(
                    kind, build, found, namespace, distribution, dropped))
    return found
