"""Every third-party module the package and its tests import is a declared dependency.

A module that is only present because something else pulled it in (typer once brought click,
timm brings huggingface-hub) works in CI's environment and fails in a user's: the README's own
install must be enough.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

# Imported only under pytest.importorskip (tests) or by the ganzoo-timm plugin, never needed;
# huggingface_hub only when an hf:// source is used, behind the `hub` extra (ganzoo[hub]);
# matplotlib only by `ganzoo report`, behind the `report` extra (ganzoo[report]);
# av only for an .mp4 walk, behind the `video` extra (ganzoo[video]).
OPTIONAL = {"timm", "torchvision", "huggingface_hub", "matplotlib", "av"}
# Packages the tests install themselves (fixtures, scaffolds, the timm plugin).
LOCAL = re.compile(r"^(ganzoo|tests|ganzoo_\w+|docs)$")


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def declared() -> tuple[set[str], set[str]]:
    """(runtime, runtime + dev) distribution names, from pyproject.toml (an installed copy's
    metadata may be older than the file)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    return runtime, runtime | {_name(r) for r in project["optional-dependencies"]["dev"]}


def imported(folder: Path) -> dict[str, str]:
    """Top-level third-party modules imported under ``folder`` -> one file importing each."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        if "plugins" in path.relative_to(ROOT).parts[1:]:  # tests/plugins: fixture packages
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and not LOCAL.match(top):
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def undeclared(modules: dict[str, str], allowed: set[str]) -> list[str]:
    providers = metadata.packages_distributions()
    missing = []
    for module, where in sorted(modules.items()):
        if module in OPTIONAL:
            continue
        dists = {d.lower().replace("_", "-") for d in providers.get(module, [module])}
        if not dists & allowed:
            missing.append(f"{module} (imported in {where}; installed by {sorted(dists)})")
    return missing


def test_the_package_imports_only_its_declared_dependencies():
    runtime, _ = declared()
    assert {"torch", "pluggy", "typer", "safetensors"} <= runtime
    missing = undeclared(imported(ROOT / "ganzoo"), runtime)
    assert not missing, "add to [project].dependencies in pyproject.toml: " + "; ".join(missing)


def test_the_tests_import_only_declared_dependencies():
    _, with_dev = declared()
    assert "pytest" in with_dev
    missing = undeclared(imported(ROOT / "tests"), with_dev)
    assert not missing, "add to the dev extra in pyproject.toml: " + "; ".join(missing)
