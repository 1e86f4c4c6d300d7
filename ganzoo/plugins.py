"""The plugin manager: built-ins and entry points, loaded safely, one plugin at a time.

Switches (read here and nowhere else):

``GANZOO_DISABLE_PLUGIN_AUTOLOAD=1``
    load the built-in plugins only (for when an installed plugin breaks everything).
``GANZOO_DISABLE_PLUGINS=a,b``
    skip the named entry-point plugins.
``GANZOO_PLUGIN_ERRORS=raise``
    re-raise a failing plugin's exception with its traceback (for plugin authors).

A plugin may declare the plugin API versions it supports as a module attribute
``GANZOO_PLUGIN_API`` (``1``, ``(1, 2)`` or ``"1..2"``); outside that range it is reported as
failed, with the versions and the fix, instead of being half-loaded.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.metadata as metadata
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from ganzoo import hookspecs
from ganzoo.config import DiscriminatorConfig, GeneratorConfig, check_recipe_shape
from ganzoo.errors import (
    AmbiguousNameError,
    GanzooError,
    PluginAPIError,
    UnknownComponentError,
)
from ganzoo.hooks import PLUGIN_API
from ganzoo.registry import (
    KINDS,
    PLURALS,
    Architecture,
    Component,
    Dataset,
    FeatureExtractor,
    Loss,
    Recipe,
    Registry,
    Regularizer,
)

ENTRY_POINT_GROUP = "ganzoo"
BUILTIN_PLUGIN = "ganzoo"
BUILTIN_MODULES = (
    "ganzoo.zoo.dcgan",
    "ganzoo.zoo.dcgan_cond",
    "ganzoo.zoo.sngan",
    "ganzoo.zoo.progan",
    "ganzoo.zoo.losses",
    "ganzoo.zoo.regularizers",
    "ganzoo.zoo.datasets",
    "ganzoo.zoo.recipes",
    "ganzoo.zoo.extractors",
)

# hook name -> (component kind, constructor of the registered value)
HOOK_KINDS: dict[str, tuple[str, Callable[..., Any]]] = {
    "register_architectures": ("architecture", Architecture),
    "register_losses": ("loss", Loss),
    "register_regularizers": ("regularizer", Regularizer),
    "register_datasets": ("dataset", Dataset),
    "register_recipes": ("recipe", Recipe),
    "register_feature_extractors": ("feature_extractor", FeatureExtractor),
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


@dataclass
class PluginHost:
    """The loaded plugin manager, the registry it filled, and each plugin's status."""

    pm: pluggy.PluginManager
    registry: Registry
    statuses: list[PluginStatus]
    # pluggy's name for each registered plugin object -> its status (several built-in modules
    # share the one "ganzoo" status)
    owners: dict[str, PluginStatus] = field(default_factory=dict)
    commands_added: bool = False
    autoload: bool = True  # False under GANZOO_DISABLE_PLUGIN_AUTOLOAD: entry points not read


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _normalize(name: str) -> str:
    """Distribution-name normalisation (PEP 503): ``Ganzoo_Acme`` == ``ganzoo-acme``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _disabled_names() -> set[str]:
    raw = os.environ.get("GANZOO_DISABLE_PLUGINS", "")
    return {_normalize(part.strip()) for part in raw.split(",") if part.strip()}


def _raise_plugin_errors() -> bool:
    return os.environ.get("GANZOO_PLUGIN_ERRORS", "").strip().lower() == "raise"


class PluginLoadError(RuntimeError):
    """Raised instead of skipping a broken plugin when ``GANZOO_PLUGIN_ERRORS=raise``.

    Deliberately not a :class:`GanzooError`: the CLI shows it with the full traceback of the
    plugin's own exception.
    """


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
        if replaces is not None:
            _check_replaces(kind, name, replaces, plugin)
        if kind == "recipe":
            if not isinstance(value, dict):
                raise GanzooError(
                    f"plugin '{plugin}' registered recipe '{name}' with a "
                    f"{type(value).__name__}; a recipe is a mapping like a registry.yaml entry"
                )
            # what `ganzoo zoo list` reads from every recipe must be there before it is listed
            check_recipe_shape(value, f"plugin '{plugin}' recipe '{name}'")
            fields = {
                "spec": value,
                "description": str(value.get("description", "")),
                "paper": str(value.get("paper", "")),
                "source": str(fields.get("source", "")),
            }
        elif value is not None:
            raise GanzooError(f"plugin '{plugin}' registered {kind} '{name}' with a positional "
                              f"value; pass its parts by keyword (see docs/hooks.md)")
        if kind == "loss" and isinstance(fields.get("regularizers"), list):
            fields["regularizers"] = tuple(fields["regularizers"])
        if kind == "feature_extractor":
            if fields.get("score_names", {}) is None:
                del fields["score_names"]
            for key in ("channels", "input_range"):
                if isinstance(fields.get(key), list):
                    fields[key] = tuple(fields[key])
        try:
            component_value = build(name=name, **fields)
        except TypeError as exc:
            raise GanzooError(f"plugin '{plugin}' registered {kind} '{name}' badly: {exc}") from exc
        _check_component(kind, component_value, plugin)
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


def _check_component(kind: str, value: Any, plugin: str) -> None:
    where = f"plugin '{plugin}' {kind} '{value.name}'"
    if kind == "architecture":
        if value.generator is None and value.discriminator is None:
            raise GanzooError(f"{where} provides neither a generator nor a discriminator")
        for side, base in (("generator", GeneratorConfig),
                           ("discriminator", DiscriminatorConfig)):
            cls = getattr(value, side)
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
    elif kind == "feature_extractor":
        if not callable(value.load):
            raise GanzooError(f"{where}: load must be a callable load(**options) returning an "
                              "object with features(x)")
        if not (isinstance(value.channels, tuple) and value.channels
                and all(c in (1, 3) for c in value.channels)):
            raise GanzooError(f"{where}: channels must be a tuple of 1 and/or 3, "
                              f"got {value.channels!r}")
        low_high = value.input_range
        if not (isinstance(low_high, tuple) and len(low_high) == 2
                and all(isinstance(v, (int, float)) for v in low_high)
                and low_high[0] < low_high[1]):
            raise GanzooError(f"{where}: input_range must be (low, high), got {low_high!r}")
        if not isinstance(value.sha256, str) or not isinstance(value.score_names, Mapping):
            raise GanzooError(f"{where}: sha256 must be a string and score_names a mapping")


def _hook_names() -> list[str]:
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


def _implemented_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(
        name for name in dir(plugin)
        if pm.parse_hookimpl_opts(plugin, name) is not None
    )


def _check_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """The hooks ``plugin`` implements, or a GanzooError for a misspelled or mis-signed one.

    Checked before pluggy sees the plugin, so the reason reads as a fix, not as pluggy's
    multi-line validation report.
    """
    specs = _hook_names()
    hooks = _implemented_hooks(pm, plugin)
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


def _call_hook(impl: Any, hook: str, **arguments: Any) -> None:
    """Call one plugin's implementation with the arguments it asks for."""
    try:
        impl.function(**{k: v for k, v in arguments.items() if k in impl.argnames})
    except GanzooError:
        raise
    except Exception as exc:
        raise GanzooError(f"{hook} raised {type(exc).__name__}: {exc}") from exc


def _collect(pm: pluggy.PluginManager, plugin: object, namespace: str,
             distribution: str) -> list[Component]:
    """Call each of one plugin's register hooks; returns what it registered."""
    found: list[Component] = []
    for hook_name, (kind, build) in HOOK_KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin:
                _call_hook(impl, hook_name,
                           register=_make_register(kind, build, found, namespace, distribution))
    return found


def _add_all(registry: Registry, components: Iterable[Component]) -> None:
    for component in components:
        registry.add(component)


def _record(status: PluginStatus, components: Iterable[Component]) -> None:
    for c in components:
        status.provides.append(c.full_name)
        status.provides_by_kind.setdefault(c.kind, []).append(c.full_name)
        if c.replaces:
            status.replaces[f"{c.kind} {c.full_name}"] = c.replaces


def _parse_api_range(declared: Any) -> tuple[int, int]:
    """``1`` / ``(1, 2)`` / ``"1..2"`` -> (low, high); a PluginAPIError says how to write it."""

    def whole(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and x >= 1

    if whole(declared):
        return declared, declared
    if isinstance(declared, (tuple, list)) and len(declared) == 2 and all(map(whole, declared)):
        low, high = declared
        if low <= high:
            return low, high
    if isinstance(declared, str):
        match = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", declared)
        if match:
            low = int(match.group(1))
            high = int(match.group(2) or low)
            if 1 <= low <= high:
                return low, high
    raise PluginAPIError(f"declares GANZOO_PLUGIN_API = {declared!r}; write the supported "
                         "plugin API versions as an int (1), a (low, high) tuple ((1, 2)) or "
                         "a string ('1..2')")


def _check_api(plugin: object, status: PluginStatus) -> str:
    """The API range ``plugin`` declares ("" if none); a PluginAPIError if ours is outside it."""
    declared = getattr(plugin, "GANZOO_PLUGIN_API", None)
    if declared is None:
        return ""
    low, high = _parse_api_range(declared)
    text = str(low) if low == high else f"{low}..{high}"
    if low <= PLUGIN_API <= high:
        return text
    if low > PLUGIN_API:
        fix = f"upgrade ganzoo, or pin {status.distribution}<{status.version}"
    else:
        fix = (f"upgrade {status.distribution} to a release for plugin API {PLUGIN_API}, "
               "or use an older ganzoo")
    raise PluginAPIError(f"needs plugin API {text}, this ganzoo ({_ganzoo_version()}) "
                         f"provides {PLUGIN_API}; {fix}")


def _reason(exc: BaseException) -> str:
    """One line saying why a plugin failed."""
    if isinstance(exc, GanzooError):
        text = str(exc)
    elif isinstance(exc, pluggy.PluginValidationError):
        text = f"invalid hook: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _fail(host: PluginHost, plugin: object | None, status: PluginStatus,
          exc: BaseException) -> None:
    """Take a broken plugin out again, record why, and say so in one line (or re-raise)."""
    if plugin is not None and host.pm.is_registered(plugin):
        host.owners.pop(host.pm.get_name(plugin), None)
        host.pm.unregister(plugin)
    host.registry.remove_plugin(status.name)
    status.status = "failed"
    status.error = _reason(exc)
    status.provides, status.provides_by_kind, status.replaces = [], {}, {}
    status.commands = []
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
    registry = Registry()
    version = _ganzoo_version()
    builtin = PluginStatus(BUILTIN_PLUGIN, "ganzoo", version, builtin=True,
                           plugin_api=str(PLUGIN_API))
    statuses = [builtin]
    host = PluginHost(pm, registry, statuses)
    for module_name in BUILTIN_MODULES:
        module = importlib.import_module(module_name)
        _check_hooks(pm, module)
        pm.register(module, name=module_name)
        host.owners[module_name] = builtin
        found = _collect(pm, module, BUILTIN_PLUGIN, "ganzoo")
        _add_all(registry, found)
        builtin.hooks = sorted(set(builtin.hooks) | set(_implemented_hooks(pm, module)))
        _record(builtin, found)

    host.autoload = not _env_flag("GANZOO_DISABLE_PLUGIN_AUTOLOAD")
    if host.autoload:
        disabled = _disabled_names()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            statuses.append(_load_entry_point(host, ep, disabled))
        _fail_missing_replacements(host)
    _note_clashes(host)
    return host


def _check_replaced_exist(host: PluginHost, status: PluginStatus) -> None:
    """A GanzooError if one of ``status``'s ``replaces=`` names a component nobody provides.

    A component of a plugin that is installed but disabled or failed is not missing: there is
    just nothing to replace this time.
    """
    by_name = {s.name: s for s in host.statuses}
    for key, target in status.replaces.items():
        kind, full_name = key.split(" ", 1)
        try:
            host.registry.resolve(kind, target)
            continue
        except UnknownComponentError:
            pass
        owner = by_name.get(target.split(":")[0])
        if owner is not None and owner.status != "loaded":
            continue
        others = [c for c in host.registry.components(kind) if c.plugin != status.name]
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
                _fail(host, host.pm.get_plugin(name), status, exc)
                failed = True


def _note_clashes(host: PluginHost) -> None:
    """Record, on each plugin, the short names that resolve to more than one component."""
    by_name = {s.name: s for s in host.statuses}
    for status in host.statuses:
        status.clashes = []
    for kind in KINDS:
        components = host.registry.components(kind)
        for c in components:
            try:
                host.registry.resolve(kind, c.name)
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
        status.plugin_api = _check_api(plugin, status)
        status.hooks = _check_hooks(pm, plugin)
        pm.register(plugin, name=f"entrypoint:{ep.name}")
        host.owners[f"entrypoint:{ep.name}"] = status
        found = _collect(pm, plugin, ep.name, status.distribution)
        _add_all(host.registry, found)
        _record(status, found)
    except (Exception, SystemExit) as exc:  # a broken plugin must never break ganzoo
        _fail(host, plugin, status, exc)
    return status


def _command_names(commands: list[Any], groups: list[Any]) -> list[str]:
    from typer.main import get_command_name

    names = [info.name or get_command_name(info.callback.__name__) for info in commands]
    names += [info.name or info.typer_instance.info.name for info in groups]
    return [n for n in names if n]


def add_commands(app: Any) -> None:
    """Let each plugin add commands to ``app`` (``register_commands``), one plugin at a time.

    A plugin whose hook raises, or that adds a command ganzoo already has, is taken out and
    reported like any plugin that fails to load; the CLI keeps working.
    """
    host = get_host()
    if host.commands_added:
        return
    host.commands_added = True
    for impl in host.pm.hook.register_commands.get_hookimpls():
        status = host.owners.get(impl.plugin_name)
        if status is None:  # registered straight on host.pm, outside this module: no status
            _call_hook(impl, "register_commands", app=app)
            continue
        commands, groups = list(app.registered_commands), list(app.registered_groups)
        existing = _command_names(commands, groups)
        try:
            _call_hook(impl, "register_commands", app=app)
            added = _command_names(app.registered_commands[len(commands):],
                                   app.registered_groups[len(groups):])
            clashes = sorted({n for n in added if n in existing or added.count(n) > 1})
            if clashes:
                raise GanzooError(f"adds the command(s) {', '.join(clashes)} that the ganzoo "
                                  "command line already has; give its commands other names")
            status.commands += added
        except (Exception, SystemExit) as exc:
            app.registered_commands[:], app.registered_groups[:] = commands, groups
            if status.builtin:
                raise
            _fail(host, impl.plugin, status, exc)


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
    """Register a plugin object in-process, as if it came from an entry point (for tests).

    Unlike an entry point, a broken object raises here, so a test sees the error directly.
    """
    host = get_host()
    status = PluginStatus(name, distribution, "", builtin=False)
    status.plugin_api = _check_api(plugin, status)
    status.hooks = _check_hooks(host.pm, plugin)
    host.pm.register(plugin, name=f"inprocess:{name}")
    try:
        found = _collect(host.pm, plugin, name, distribution)
        _add_all(host.registry, found)
        _record(status, found)
        _check_replaced_exist(host, status)
    except Exception:
        host.pm.unregister(plugin)
        host.registry.remove_plugin(name)
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
    host.registry.remove_plugin(name)
    host.statuses = [s for s in host.statuses if s.name != name]
