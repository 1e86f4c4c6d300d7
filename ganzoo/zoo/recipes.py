"""The built-in recipes: the entries of ``registry.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ganzoo.errors import GanzooError
from ganzoo.hooks import hookimpl


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


def read_recipes(path: Path) -> dict[str, dict[str, Any]]:
    """Parse a registry file; a malformed one is an error naming the file and the entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise GanzooError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise GanzooError(f"{path} must map recipe names to recipes")
    for name, spec in data.items():
        if not isinstance(spec, dict):
            raise GanzooError(f"{path}: entry '{name}' must be a mapping, got {spec!r}")
    return data


@hookimpl
def register_recipes(register):
    for name, spec in read_recipes(registry_path()).items():
        register(str(name), spec)
