"""The plugin host: built-ins and entry points, loaded safely, one plugin at a time, into one
name table.

Switches (read here and nowhere else):

``GANZOO_DISABLE_PLUGIN_AUTOLOAD=1``
    load the built-in plugins only (for when an installed plugin breaks everything).
``GANZOO_DISABLE_PLUGINS=a,b``
    skip the named entry-point plugins.
``GANZOO_PLUGINS=a,b``
    load only the named entry-point plugins (set but empty: none); the others are not read
    at all. Test suites use it to run against exactly the plugins they install.
``GANZOO_PLUGIN_ERRORS=raise``
    re-raise a failing plugin's exception with its traceback (for plugin authors).

The host is built once, at an entry point (the CLI, the Python API in ``ganzoo/__init__``),
and handed down; nothing below those fetches it by itself.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import os
import re
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field

import pluggy

from ganzoo import hookspecs
from ganzoo.components import KINDS, PLURALS, Component, NameTable
from ganzoo.errors import AmbiguousNameError, GanzooError, UnknownComponentError
from ganzoo.hooks import PLUGIN_API
from ganzoo.host.api import check_api
from ganzoo.host.recipe_checks import bad_recipes, drop_recipe
from ganzoo.host.registration import check_hooks, collect, implemented_hooks
from ganzoo.version import __version__

ENTRY_POINT_GROUP = "ganzoo"
BUILTIN_PLUGIN = "ganzoo"
BUILTIN_MODULES = (
    "ganzoo.zoo.dcgan",
    "ganzoo.zoo.dcgan_cond",
    "ganzoo.zoo.sngan",
    "ganzoo.zoo.progan",
    "ganzoo.zoo.r3gan",
    "ganzoo.zoo.losses",
    "ganzoo.zoo.regularizers",
    "ganzoo.zoo.datasets",
    "ganzoo.zoo.recipes",
    "ganzoo.zoo.extractors",
)


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
    provides: list[str] = field(default_factory=list)  # full names, e.g. "acme:acme-gan"
    # the same, by kind: {"architecture": ["acme:acme-gan"], "recipe": [...]}
    provides_by_kind: dict[str, list[str]] = field(default_factory=dict)
    # "KIND FULL_NAME" -> the full name it explicitly replaces (``replaces=`` at registration)
    replaces: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    # short names this plugin shares with another, e.g. "architecture dcgan: also ganzoo:dcgan"
    clashes: list[str] = field(default_factory=list)
    plugin_api: str = ""  # the range the plugin declares, e.g. "1..2"; "" when it declares none
    traceback: str = ""
    # recipes dropped for failing their checks (the plugin stays loaded): full name -> why
    dropped: dict[str, str] = field(default_factory=dict)


@dataclass
class PluginHost:
    """The loaded plugin manager, the name table it filled, and each plugin's status."""

    pm: pluggy.PluginManager
    table: NameTable
    statuses: list[PluginStatus]
    # pluggy's name for each registered plugin object -> its status (several built-in modules
    # share the one "ganzoo" status)
    owners: dict[str, PluginStatus] = field(default_factory=dict)
    commands_added: bool = False
    autoload: bool = True  # False under GANZOO_DISABLE_PLUGIN_AUTOLOAD: entry points not read
    # GANZOO_PLUGINS: the only entry-point plugins read (normalised names); None: all of them
    only: frozenset[str] | None = None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _normalize(name: str) -> str:
    """Distribution-name normalisation (PEP 503): ``Ganzoo_Acme`` == ``ganzoo-acme``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(variable: str) -> set[str]:
    raw = os.environ.get(variable, "")
    return {_normalize(part.strip()) for part in raw.split(",") if part.strip()}


def _disabled_names() -> set[str]:
    return _names("GANZOO_DISABLE_PLUGINS")


def _only_names() -> frozenset[str] | None:
    """``GANZOO_PLUGINS``: the entry-point plugins to load and no others (None when unset)."""
    if "GANZOO_PLUGINS" not in os.environ:
        return None
    return frozenset(_names("GANZOO_PLUGINS"))


def _named(ep: metadata.EntryPoint, names: Iterable[str]) -> bool:
    """Whether ``names`` (normalised) name the entry point or its distribution."""
    dist = getattr(ep, "dist", None)
    own = {_normalize(ep.name)} | ({_normalize(dist.metadata["Name"])} if dist else set())
    return bool(own & set(names))


def _raise_plugin_errors() -> bool:
    return os.environ.get("GANZOO_PLUGIN_ERRORS", "").strip().lower() == "raise"


class PluginLoadError(RuntimeError):
    """Raised instead of skipping a broken plugin when ``GANZOO_PLUGIN_ERRORS=raise``.

    Deliberately not a :class:`GanzooError`: the CLI shows it with the full traceback of the
    plugin's own exception.
    """


def _add_all(table: NameTable, components: Iterable[Component]) -> None:
    for component in components:
        table.add(component)


def _record(status: PluginStatus, components: Iterable[Component]) -> None:
    for c in components:
        status.provides.append(c.full_name)
        status.provides_by_kind.setdefault(c.kind, []).append(c.full_name)
        if c.replaces:
            status.replaces[f"{c.kind} {c.full_name}"] = c.replaces


def _reason(exc: BaseException) -> str:
    """One line saying why a plugin failed."""
    if isinstance(exc, GanzooError):
        text = str(exc)
    elif isinstance(exc, pluggy.PluginValidationError):
        text = f"invalid hook: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def fail_plugin(host: PluginHost, plugin: object | None, status: PluginStatus,
          exc: BaseException) -> None:
    """Take a broken plugin out again, record why, and say so in one line (or re-raise)."""
    if plugin is not None and host.pm.is_registered(plugin):
        host.owners.pop(host.pm.get_name(plugin), None)
        host.pm.unregister(plugin)
    host.table.remove_plugin(status.name)
    status.status = "failed"
    status.error = _reason(exc)
    status.provides, status.provides_by_kind, status.replaces = [], {}, {}
    status.commands, status.dropped = [], {}
    status.traceback = "".join(traceback.format_exception(exc))
    if _raise_plugin_errors():
        raise PluginLoadError(f"plugin '{status.name}' ({status.distribution} {status.version}) "
                              f"failed to load: {status.error}") from exc
    print(
        f"ganzoo: plugin '{status.name}' ({status.distribution} {status.version}) failed to "
        f"load and was skipped: {status.error} "
        "(GANZOO_PLUGIN_ERRORS=raise shows the traceback)",
        file=sys.stderr,
    )


def load_plugins() -> PluginHost:
    """Build a fresh plugin manager: built-ins first, then each entry point in turn."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    table = NameTable()
    builtin = PluginStatus(BUILTIN_PLUGIN, "ganzoo", __version__, builtin=True,
                           plugin_api=str(PLUGIN_API))
    statuses = [builtin]
    host = PluginHost(pm, table, statuses)
    for module_name in BUILTIN_MODULES:
        module = importlib.import_module(module_name)
        check_hooks(pm, module)
        pm.register(module, name=module_name)
        host.owners[module_name] = builtin
        found = collect(pm, module, BUILTIN_PLUGIN, "ganzoo")
        _add_all(table, found)
        builtin.hooks = sorted(set(builtin.hooks) | set(implemented_hooks(pm, module)))
        _record(builtin, found)

    host.only = _only_names()
    host.autoload = not _env_flag("GANZOO_DISABLE_PLUGIN_AUTOLOAD")
    if host.autoload:
        disabled = _disabled_names()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if host.only is None or _named(ep, host.only):
                statuses.append(_load_entry_point(host, ep, disabled))
        _fail_missing_replacements(host)
    _drop_bad_recipes(host)
    _note_clashes(host)
    return host


def _drop_bad_recipes(host: PluginHost) -> None:
    """Take out each recipe that does not resolve against all plugins' components, keeping its
    plugin; one line per recipe dropped (here or at registration), or stop (errors=raise)."""
    owners = {s.name: s for s in host.statuses if s.status == "loaded"}
    for full_name, reason in bad_recipes(host.table, host.table.components("recipe")).items():
        drop_recipe(host.table, owners.get(full_name.split(":")[0]), full_name, reason)
    for status in host.statuses:
        for full_name, reason in status.dropped.items():
            who = f"plugin '{status.name}' ({status.distribution} {status.version})"
            if _raise_plugin_errors():
                raise PluginLoadError(f"{who}: recipe '{full_name}' is invalid: {reason}")
            print(f"ganzoo: {who}: recipe '{full_name}' was dropped, the rest of the plugin "
                  f"loaded: {reason}", file=sys.stderr)


def _check_replaced_exist(host: PluginHost, status: PluginStatus) -> None:
    """A GanzooError if one of ``status``'s ``replaces=`` names a component nobody provides.

    A component of a plugin that is installed but disabled or failed is not missing: there is
    just nothing to replace this time.
    """
    by_name = {s.name: s for s in host.statuses}
    for key, target in status.replaces.items():
        kind, full_name = key.split(" ", 1)
        try:
            host.table.resolve(kind, target)
            continue
        except UnknownComponentError:
            pass
        owner = by_name.get(target.split(":")[0])
        if owner is not None and owner.status != "loaded":
            continue
        others = [c for c in host.table.components(kind) if c.plugin != status.name]
        known = sorted(c.full_name for c in others)
        same = [f"'{c.full_name}'" for c in others if c.name == target.split(":")[1]]
        hint = f" (did you mean {' or '.join(same)}?)" if same else ""
        raise GanzooError(f"{kind} '{full_name}' replaces '{target}', which no installed "
                          f"plugin provides{hint}; known {PLURALS[kind]}: "
                          f"{', '.join(known) or '(none)'}")


def _fail_missing_replacements(host: PluginHost) -> None:
    """Take out each plugin whose ``replaces=`` names a missing component.

    Run once every plugin has registered, so a replacement of a plugin loaded later is found;
    repeated, because taking one plugin out can leave another's replacement without a target.
    """
    failed = True
    while failed:
        failed = False
        for name, status in list(host.owners.items()):
            if status.builtin or status.status != "loaded":
                continue
            try:
                _check_replaced_exist(host, status)
            except GanzooError as exc:
                fail_plugin(host, host.pm.get_plugin(name), status, exc)
                failed = True


def _note_clashes(host: PluginHost) -> None:
    """Record, on each plugin, the short names that resolve to more than one component."""
    by_name = {s.name: s for s in host.statuses}
    for status in host.statuses:
        status.clashes = []
    for kind in KINDS:
        components = host.table.components(kind)
        for c in components:
            try:
                host.table.resolve(kind, c.name)
            except AmbiguousNameError:
                others = [o.full_name for o in components if o.name == c.name and o is not c]
                if c.plugin in by_name:
                    by_name[c.plugin].clashes.append(
                        f"{kind} {c.name}: also {', '.join(others)} (use full names)")


def _load_entry_point(host: PluginHost, ep: metadata.EntryPoint,
                      disabled: set[str]) -> PluginStatus:
    pm = host.pm
    dist = getattr(ep, "dist", None)
    status = PluginStatus(
        name=ep.name,
        distribution=dist.metadata["Name"] if dist else "?",
        version=dist.version if dist else "?",
        builtin=False,
    )
    if _normalize(ep.name) in disabled or _normalize(status.distribution) in disabled:
        status.status = "disabled"
        status.error = "disabled by GANZOO_DISABLE_PLUGINS"
        return status
    taken = next((s for s in host.statuses if s.name == ep.name), None)
    if taken is not None:
        status.status = "failed"
        status.error = (f"the plugin name '{ep.name}' is already taken by {taken.distribution}"
                        f"{'' if taken.builtin else ' ' + taken.version}; uninstall one of "
                        "the two, or rename this entry point")
        return status
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", ep.name):
        status.status = "failed"
        status.error = (f"the entry-point name {ep.name!r} cannot be a plugin name: use "
                        "letters, digits, '-', '_' or '.'")
        return status
    plugin = None
    try:
        plugin = ep.load()
        status.plugin_api = check_api(plugin, status.distribution, status.version)
        status.hooks = check_hooks(pm, plugin)
        pm.register(plugin, name=f"entrypoint:{ep.name}")
        host.owners[f"entrypoint:{ep.name}"] = status
        dropped: dict[str, str] | None = None if _raise_plugin_errors() else {}
        found = collect(pm, plugin, ep.name, status.distribution, dropped)
        _add_all(host.table, found)
        _record(status, found)
    except (Exception, SystemExit) as exc:  # a broken plugin must never break ganzoo
        fail_plugin(host, plugin, status, exc)
        return status
    for full_name, reason in (dropped or {}).items():
        drop_recipe(host.table, status, full_name, reason)
    return status


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, loaded on first use."""
    global _HOST
    if _HOST is None:
        _HOST = load_plugins()
    return _HOST


def get_table() -> NameTable:
    """The process-wide host's name table (for entry points, like :func:`get_host`)."""
    return get_host().table


def reset() -> None:
    """Forget the loaded plugins (tests, and after installing a plugin in-process)."""
    global _HOST
    _HOST = None


def register_plugin(plugin: object, name: str, distribution: str = "(in-process)") -> PluginStatus:
    """Register a plugin object in-process, as if it came from an entry point (for tests).

    Unlike an entry point, a broken object (or recipe) raises here, so a test sees the error.
    """
    host = get_host()
    status = PluginStatus(name, distribution, "", builtin=False)
    status.plugin_api = check_api(plugin, status.distribution, status.version)
    status.hooks = check_hooks(host.pm, plugin)
    host.pm.register(plugin, name=f"inprocess:{name}")
    try:
        found = collect(host.pm, plugin, name, distribution)
        _add_all(host.table, found)
        _record(status, found)
        _check_replaced_exist(host, status)
        bad = bad_recipes(host.table, [c for c in found if c.kind == "recipe"])
        if bad:
            raise GanzooError(next(iter(bad.values())))
    except Exception:
        host.pm.unregister(plugin)
        host.table.remove_plugin(name)
        raise
    host.owners[f"inprocess:{name}"] = status
    host.statuses.append(status)
    _note_clashes(host)
    return status


def unregister_plugin(plugin: object, name: str) -> None:
    host = get_host()
    if host.pm.is_registered(plugin):
        host.pm.unregister(plugin)
    host.owners.pop(f"inprocess:{name}", None)
    host.table.remove_plugin(name)
    host.statuses = [s for s in host.statuses if s.name != name]
