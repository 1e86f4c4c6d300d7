"""The built-in recipes: the entries of ``registry.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ganzoo.config import check_recipe_shape
from ganzoo.errors import GanzooError
from ganzoo.hooks import hookimpl
from ganzoo.hooktypes import RegisterRecipe


def registry_path() -> Path:
    """``registry.yaml``: inside the installed package, or at the top of a source checkout."""
    packaged = Path(__file__).resolve().parent.parent / "registry.yaml"
    if packaged.is_file():
        return packaged
    checkout = packaged.parent.parent / "registry.yaml"
    if checkout.is_file():
        return checkout
    raise GanzooError(f"registry.yaml is missing (looked at {packaged} and {checkout}); "
                      "reinstall ganzoo")


def _read_entries(path: Path) -> dict[Any, Any]:
    """A registry file's entries, unchecked; an error if it is not YAML mapping names to
    entries."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise GanzooError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise GanzooError(f"{path} must map recipe names to recipes")
    return data


def read_recipes(path: Path) -> dict[str, dict[str, Any]]:
    """Parse a registry file; a malformed entry is an error naming the file, the entry and the
    key. What needs the registry (architecture fields, component names) is checked once the
    plugins have registered, and those errors name the file too (:func:`register_recipe_file`)."""
    data = _read_entries(path)
    for name, spec in data.items():
        if not isinstance(spec, dict):
            raise GanzooError(f"{path}: entry '{name}' must be a mapping, got {spec!r}")
        check_recipe_shape(spec, f"{path}: entry '{name}'")
    return data


def register_recipe_file(register: RegisterRecipe, path: Path) -> None:
    """Register every recipe of a ``registry.yaml``-style file; plugins can call this from
    their ``register_recipes`` hook so their recipes' errors name their file too. Each entry
    is checked as it is registered: a malformed one is dropped alone, naming the file."""
    for name, spec in _read_entries(Path(path)).items():
        register(str(name), spec, source=str(path))


@hookimpl
def register_recipes(register: RegisterRecipe) -> None:
    register_recipe_file(register, registry_path())
