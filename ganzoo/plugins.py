"""The plugin manager: built-ins and entry points, loaded safely, one plugin at a time.

Switches (read here and nowhere else):

``GANZOO_DISABLE_PLUGIN_AUTOLOAD=1``
    load the built-in plugins only (for when an installed plugin breaks everything).
``GANZOO_DISABLE_PLUGINS=a,b``
    skip the named entry-point plugins.
``GANZOO_PLUGIN_ERRORS=raise``
    re-raise a failing plugin's exception with its traceback (for plugin authors).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as metadata
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from ganzoo import hookspecs
from ganzoo.errors import GanzooError
from ganzoo.registry import (
    Architecture,
    Component,
    Dataset,
    Loss,
    Recipe,
    Registry,
    Regularizer,
)

ENTRY_POINT_GROUP = "ganzoo"
BUILTIN_PLUGIN = "ganzoo"
BUILTIN_MODULES = (
    "ganzoo.zoo.dcgan",
    "ganzoo.zoo.losses",
    "ganzoo.zoo.regularizers",
    "ganzoo.zoo.datasets",
    "ganzoo.zoo.recipes",
)

# hook name -> (component kind, constructor of the registered value)
HOOK_KINDS: dict[str, tuple[str, Callable[..., Any]]] = {
    "register_architectures": ("architecture", Architecture),
    "register_losses": ("loss", Loss),
    "register_regularizers": ("regularizer", Regularizer),
    "register_datasets": ("dataset", Dataset),
    "register_recipes": ("recipe", Recipe),
}


@dataclass
class PluginStatus:
    """What ``ganzoo plugins list`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    builtin: bool
    status: str = "loaded"  # loaded | failed | disabled
    error: str = ""
    hooks: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)
    traceback: str = ""


@dataclass
class PluginHost:
    """The loaded plugin manager, the registry it filled, and each plugin's status."""

    pm: pluggy.PluginManager
    registry: Registry
    statuses: list[PluginStatus]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _disabled_names() -> set[str]:
    raw = os.environ.get("GANZOO_DISABLE_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _raise_plugin_errors() -> bool:
    return os.environ.get("GANZOO_PLUGIN_ERRORS", "").strip().lower() == "raise"


def _make_register(kind: str, build: Callable[..., Any], out: list[Component],
                   plugin: str, distribution: str) -> Callable[..., None]:
    """The ``register`` callback handed to one plugin's hook; validates what it receives."""

    def register(name: Any, value: Any = None, /, *, replaces: str | None = None,
                 **fields: Any) -> None:
        if not isinstance(name, str) or not name or ":" in name or "/" in name:
            raise GanzooError(
                f"plugin '{plugin}' registered a {kind} with an invalid name {name!r}: "
                "names are non-empty strings without ':' or '/'"
            )
        if kind == "recipe":
            if not isinstance(value, dict):
                raise GanzooError(
                    f"plugin '{plugin}' registered recipe '{name}' with a "
                    f"{type(value).__name__}; a recipe is a mapping like a registry.yaml entry"
                )
            fields = {
                "spec": value,
                "description": str(value.get("description", "")),
                "paper": str(value.get("paper", "")),
            }
        if kind == "loss" and isinstance(fields.get("regularizers"), list):
            fields["regularizers"] = tuple(fields["regularizers"])
        try:
            component_value = build(name=name, **fields)
        except TypeError as exc:
            raise GanzooError(f"plugin '{plugin}' registered {kind} '{name}' badly: {exc}") from exc
        _check_component(kind, component_value, plugin)
        out.append(Component(kind, plugin, distribution, component_value, replaces))

    return register


def _check_component(kind: str, value: Any, plugin: str) -> None:
    where = f"plugin '{plugin}' {kind} '{value.name}'"
    if kind == "architecture":
        if value.generator is None and value.discriminator is None:
            raise GanzooError(f"{where} provides neither a generator nor a discriminator")
        for side in ("generator", "discriminator"):
            cls = getattr(value, side)
            if cls is not None and not hasattr(cls, "config_class"):
                raise GanzooError(f"{where}: the {side} class needs a 'config_class' dataclass")
    elif kind == "loss":
        if not (callable(value.d_loss) and callable(value.g_loss)):
            raise GanzooError(f"{where}: d_loss and g_loss must be callables")
        if value.after_d_step is not None and not callable(value.after_d_step):
            raise GanzooError(f"{where}: after_d_step must be a callable after_d_step(D) or None")
        companions = value.regularizers
        if not isinstance(companions, tuple) or not all(
                isinstance(item, str) or (isinstance(item, Mapping)
                                          and isinstance(item.get("name"), str))
                for item in companions):
            raise GanzooError(f"{where}: regularizers must be a tuple of regularizer names or "
                              f"{{'name': ..., 'weight': ..., 'interval': ...}} mappings, "
                              f"got {companions!r}")
    elif kind == "regularizer":
        if not callable(value.fn):
            raise GanzooError(f"{where}: fn must be a callable fn(D, real, fake, labels)")
        if not isinstance(value.interval, int) or isinstance(value.interval, bool) \
                or value.interval < 1:
            raise GanzooError(f"{where}: interval must be an integer >= 1, "
                              f"got {value.interval!r}")
        if not isinstance(value.weight, (int, float)) or isinstance(value.weight, bool):
            raise GanzooError(f"{where}: weight must be a number, got {value.weight!r}")
    elif kind == "dataset" and not callable(value.load):
        raise GanzooError(f"{where}: load must be callable")


def _implemented_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(
        name for name in dir(plugin)
        if pm.parse_hookimpl_opts(plugin, name) is not None
    )


def _collect(pm: pluggy.PluginManager, plugin: object, namespace: str,
             distribution: str) -> list[Component]:
    """Call each of one plugin's register hooks; returns what it registered."""
    known_specs = [n for n in dir(hookspecs) if n.startswith("register_")]
    for hook in _implemented_hooks(pm, plugin):
        if hook not in known_specs:
            close = difflib.get_close_matches(hook, known_specs, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise GanzooError(f"'{hook}' is not a ganzoo hook{hint}")
    found: list[Component] = []
    for hook_name, (kind, build) in HOOK_KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin:
                impl.function(register=_make_register(kind, build, found, namespace, distribution))
    return found


def _add_all(registry: Registry, components: Iterable[Component]) -> None:
    for component in components:
        registry.add(component)


def load_plugins() -> PluginHost:
    """Build a fresh plugin manager: built-ins first, then each entry point in turn."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    version = _ganzoo_version()
    builtin = PluginStatus(BUILTIN_PLUGIN, "ganzoo", version, builtin=True)
    statuses = [builtin]
    for module_name in BUILTIN_MODULES:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
        found = _collect(pm, module, BUILTIN_PLUGIN, "ganzoo")
        _add_all(registry, found)
        builtin.hooks = sorted(set(builtin.hooks) | set(_implemented_hooks(pm, module)))
        builtin.provides += [c.full_name for c in found]

    if not _env_flag("GANZOO_DISABLE_PLUGIN_AUTOLOAD"):
        disabled = _disabled_names()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            statuses.append(_load_entry_point(pm, registry, ep, disabled))
    return PluginHost(pm, registry, statuses)


def _load_entry_point(pm: pluggy.PluginManager, registry: Registry,
                      ep: metadata.EntryPoint, disabled: set[str]) -> PluginStatus:
    dist = getattr(ep, "dist", None)
    status = PluginStatus(
        name=ep.name,
        distribution=dist.metadata["Name"] if dist else "?",
        version=dist.version if dist else "?",
        builtin=False,
    )
    if ep.name in disabled or status.distribution in disabled:
        status.status = "disabled"
        status.error = "disabled by GANZOO_DISABLE_PLUGINS"
        return status
    if ep.name == BUILTIN_PLUGIN:
        status.status, status.error = "failed", "the plugin name 'ganzoo' is reserved"
        return status
    plugin = None
    try:
        plugin = ep.load()
        pm.register(plugin, name=f"entrypoint:{ep.name}")
        status.hooks = _implemented_hooks(pm, plugin)
        found = _collect(pm, plugin, ep.name, status.distribution)
        _add_all(registry, found)
        status.provides = [c.full_name for c in found]
    except Exception as exc:  # a broken plugin must never break ganzoo
        if plugin is not None and pm.is_registered(plugin):
            pm.unregister(plugin)
        registry.remove_plugin(ep.name)
        status.status = "failed"
        status.error = f"{type(exc).__name__}: {exc}"
        if _raise_plugin_errors():
            raise
        print(
            f"ganzoo: plugin '{ep.name}' ({status.distribution} {status.version}) failed to "
            f"load and was skipped: {status.error} "
            "(GANZOO_PLUGIN_ERRORS=raise shows the traceback)",
            file=sys.stderr,
        )
        status.traceback = traceback.format_exc()
    return status


def _ganzoo_version() -> str:
    from ganzoo import __version__

    return __version__


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, loaded on first use."""
    global _HOST
    if _HOST is None:
        _HOST = load_plugins()
    return _HOST


def get_registry() -> Registry:
    return get_host().registry


def reset() -> None:
    """Forget the loaded plugins (tests, and after installing a plugin in-process)."""
    global _HOST
    _HOST = None


def register_plugin(plugin: object, name: str, distribution: str = "(in-process)") -> PluginStatus:
    """Register a plugin object in-process, as if it came from an entry point (for tests)."""
    host = get_host()
    host.pm.register(plugin, name=f"inprocess:{name}")
    try:
        found = _collect(host.pm, plugin, name, distribution)
        _add_all(host.registry, found)
    except Exception:
        host.pm.unregister(plugin)
        host.registry.remove_plugin(name)
        raise
    status = PluginStatus(name, distribution, "", builtin=False,
                          hooks=_implemented_hooks(host.pm, plugin),
                          provides=[c.full_name for c in found])
    host.statuses.append(status)
    return status


def unregister_plugin(plugin: object, name: str) -> None:
    host = get_host()
    if host.pm.is_registered(plugin):
        host.pm.unregister(plugin)
    host.registry.remove_plugin(name)
    host.statuses = [s for s in host.statuses if s.name != name]
