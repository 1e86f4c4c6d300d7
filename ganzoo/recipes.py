"""Recipe resolution: a recipe (or a bare architecture) and its overrides, looked up in the
plugin host's name table, become a :class:`~ganzoo.config.ResolvedRecipe`.

Defaults < recipe < overrides. Every component a recipe names is resolved here (short names
in the recipe's own plugin first), and so is the recipe a run's ``config.json`` describes.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from ganzoo.components import Component, NameTable
from ganzoo.config import (
    DERIVED_FIELDS,
    Override,
    RegularizerSpec,
    ResolvedRecipe,
    apply_overrides,
    build_dataclass,
    check_recipe_shape,
    check_sizes,
    coerce,
    parse_override,
)
from ganzoo.errors import AmbiguousNameError, GanzooError, UnknownComponentError
from ganzoo.loss_params import DEFAULT_LOSS, loss_entry


def resolve_spec(name: str, spec: dict[str, Any], table: NameTable, source: str = "", *,
                 plugin: str | None = None,
                 overridden: Collection[str] = ()) -> ResolvedRecipe:
    """Turn a recipe mapping into typed configs, looking each component up in ``table``.

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
            return table.resolve(kind, value)
        try:
            return table.resolve(kind, value, prefer=prefer)
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
        loss_name, given = loss_entry(spec["loss"], where)
        loss_component = lookup("loss", loss_name, f"{where}: loss", plugin,
                                by_user("loss.name"))
    else:  # ganzoo's default, not a name the recipe wrote: ganzoo's (or its replacement)
        given = {}
        loss_component = lookup("loss", DEFAULT_LOSS, f"{where}: loss", "ganzoo", False)
    loss = loss_component.full_name
    loss_params = _loss_params(where, loss_component, given)

    def regularizer(value: str, at: str, companion: bool) -> Any:
        if companion:  # named by the loss's plugin
            return lookup("regularizer", value, at, loss_component.plugin, False)
        return lookup("regularizer", value, at, plugin, by_user("regularizers"))

    regs = _resolve_regularizers(where, loss_component, spec.get("regularizers"), table,
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
        loss_params=loss_params,
    )


def _loss_params(where: str, loss: Component, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of ``loss``: its defaults, overridden by ``given`` (the recipe's,
    checked against the declared names and types)."""
    declared = dict(loss.value.params)
    values = dict(declared)
    for key, value in given.items():
        if key not in declared:
            if not declared:
                raise GanzooError(f"{where}: loss '{loss.full_name}' takes no parameters, got "
                                  f"'{key}'; write its name alone (loss: {loss.name}), or pick "
                                  "a loss that has parameters ('ganzoo zoo list --losses')")
            close = difflib.get_close_matches(str(key), list(declared), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise GanzooError(f"{where}: loss '{loss.full_name}' has no parameter '{key}': "
                              f"{hint}its parameters, with their defaults: "
                              f"{loss.value.describe_params()} (see 'ganzoo zoo list --losses')")
        default = declared[key]
        try:
            values[key] = coerce(value, type(default), f"{where}: loss.{key}")
        except GanzooError as exc:
            raise GanzooError(f"{exc} (a {type(default).__name__} parameter of loss "
                              f"'{loss.full_name}', default {default!r})") from None
    return values


def _regularizer_spec(item: Any, where: str, table: NameTable) -> RegularizerSpec:
    reg = (RegularizerSpec(item) if isinstance(item, str)
           else build_dataclass(RegularizerSpec, item, where))
    reg.name = table.resolve("regularizer", reg.name).full_name
    if reg.interval is not None and reg.interval < 1:
        raise GanzooError(f"{where}.interval must be at least 1, got {reg.interval}")
    if reg.weight is not None and reg.weight < 0:
        raise GanzooError(f"{where}.weight must be >= 0 (0 turns the regularizer off), "
                          f"got {reg.weight}")
    return reg


def _resolve_regularizers(where: str, loss: Component, raw: Any, table: NameTable,
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
            reg = _regularizer_spec(named(item, at, True), at, table)
        except UnknownComponentError as exc:
            raise GanzooError(f"{at}: {exc}; the plugin providing the loss needs it") from exc
        merged[reg.name] = reg
    raw = [] if raw in (None, "") else raw if isinstance(raw, list) else [raw]  # "regularizers="
    seen: set[str] = set()
    for i, item in enumerate(raw):
        at = f"{where}: regularizers[{i}]"
        reg = _regularizer_spec(named(item, at, False), at, table)
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
        defaults = table.get("regularizer", reg.name)
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


def resolve_recipe(name: str, overrides: Iterable[str | Override] = (), *,
                   table: NameTable) -> ResolvedRecipe:
    """What ``ganzoo train --arch NAME --set ...`` trains: a recipe, or a bare architecture.

    ``overrides`` are ``--set`` texts (``"train.lr=1e-4"``, parsed as YAML) or typed
    :class:`~ganzoo.config.Override` values (``Override.setting("train.batch", 32)``).
    """
    try:
        recipe = table.resolve("recipe", name)
        spec, full, plugin = dict(recipe.value.spec), recipe.name, recipe.plugin
        source = getattr(recipe.value, "source", "")
    except UnknownComponentError:
        dropped = table.why_dropped(name)
        if dropped is not None:
            raise GanzooError(dropped) from None
        try:
            arch = table.resolve("architecture", name)
        except UnknownComponentError:
            known = sorted(set(table.names("recipe")) | set(table.names("architecture")))
            close = difflib.get_close_matches(name.split(":")[-1], known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise UnknownComponentError(
                f"unknown arch '{name}'.{hint} Known recipes and architectures: "
                f"{', '.join(known)} (see 'ganzoo zoo list')"
            ) from None
        spec, full, source = bare_architecture_spec(arch.full_name), arch.name, ""
        plugin = arch.plugin
    parsed = [o if isinstance(o, Override) else parse_override(o) for o in overrides]
    if parsed:  # an error may be the override's, not the file's: name the recipe only
        for override in parsed:
            spec = _with_override(spec, override)
        return resolve_spec(full, spec, table, plugin=plugin, overridden=[o.key for o in parsed])
    return resolve_spec(full, spec, table, plugin=plugin, source=source)


def _with_override(spec: dict[str, Any], override: Override) -> dict[str, Any]:
    """``spec`` with one override set. ``loss.PARAM=V`` first turns a loss written as a bare
    name (or left to the default) into the mapping ``{name: NAME}`` it then sets PARAM in."""
    loss = spec.get("loss", DEFAULT_LOSS)
    if override.path[0] == "loss" and len(override.path) > 1 and isinstance(loss, str):
        spec = {**spec, "loss": {"name": loss}}
    return apply_overrides(spec, [override])


def with_data_shape(recipe: ResolvedRecipe, channels: int, num_classes: int) -> ResolvedRecipe:
    """The recipe with the derived model fields set from the data and ``train.resolution``."""
    derived = {"resolution": recipe.train.resolution, "channels": channels,
               "num_classes": num_classes if recipe.train.conditional else 0}
    return dataclasses.replace(
        recipe,
        generator=dataclasses.replace(recipe.generator, **derived),
        discriminator=dataclasses.replace(recipe.discriminator, **derived),
    )


def recipe_from_config(config: dict[str, Any], table: NameTable) -> ResolvedRecipe:
    """The resolved recipe a run's ``config.json`` describes, with its data shape applied."""
    spec = {k: v for k, v in config["recipe"].items() if k != "name"}
    recipe = resolve_spec(config["recipe"].get("name", "run"), spec, table)
    data = config.get("data", {})
    recipe = with_data_shape(recipe, int(data.get("channels", 1)),
                             int(data.get("num_classes", 0)))
    fix = "the run's config.json holds it: undo the edit"
    check_sizes("generator", recipe.generator, recipe.generator_arch, fix)
    check_sizes("discriminator", recipe.discriminator, recipe.discriminator_arch, fix)
    return recipe
