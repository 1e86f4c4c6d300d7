"""Every recipe resolved once all plugins have registered, so a bad one is found at load.

A recipe's shape is checked as it is registered (:mod:`ganzoo.host.registration`); what needs
the other plugins (the components it names, their config fields' types, the loss's
parameters, the regularizers' settings) can only be checked once every plugin has registered.
A recipe that fails is left out on its own; its plugin and the plugin's other recipes stay.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ganzoo.components import Component, NameTable
from ganzoo.errors import AmbiguousNameError, GanzooError
from ganzoo.recipes import resolve_spec

if TYPE_CHECKING:
    from ganzoo.host.loader import PluginStatus


def bad_recipes(table: NameTable, recipes: Iterable[Component]) -> dict[str, str]:
    """The recipes among ``recipes`` that do not resolve against ``table``: full name -> the
    error, which names the recipe (and the file it came from).

    A short name that two other plugins provide is not the recipe's fault (it depends on what
    else is installed, and the error when it is used says how to choose), so it is not
    reported here.
    """
    bad = {}
    for recipe in recipes:
        try:
            resolve_spec(recipe.name, dict(recipe.value.spec), table,
                         getattr(recipe.value, "source", ""), plugin=recipe.plugin)
        except AmbiguousNameError:
            continue
        except GanzooError as exc:
            bad[recipe.full_name] = str(exc)
    return bad


def drop_recipe(table: NameTable, status: PluginStatus | None, full_name: str,
                reason: str) -> None:
    """Take a recipe out of ``table`` and of what ``status`` (its plugin's) provides, and
    record why on both (``ganzoo plugins list`` shows it; asking for it repeats it)."""
    table.drop_recipe(full_name, reason)
    if status is None:
        return
    status.dropped[full_name] = reason
    status.provides = [n for n in status.provides if n != full_name]
    recipes = [n for n in status.provides_by_kind.pop("recipe", []) if n != full_name]
    if recipes:
        status.provides_by_kind["recipe"] = recipes
