"""The layering of docs/architecture.md holds: the import contract, reading a run without the
trainer, the plugin host fetched only at entry points, and modules of one job each."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import shutil
import subprocess
import sys

import pytest

from ganzoo import hooktypes
from ganzoo.host.registration import HOOK_KINDS
from tests.conftest import ROOT

PACKAGE = ROOT / "ganzoo"
MAX_LINES = 400


def test_the_import_layers_hold():
    lint = shutil.which("lint-imports") or str(ROOT / ".venv" / "bin" / "lint-imports")
    proc = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


@pytest.mark.parametrize("modules", ["ganzoo.export, ganzoo.metrics",
                                     "ganzoo.loading, ganzoo.metrics.scoring",
                                     "ganzoo.cli"])
def test_reading_a_run_does_not_import_the_trainer(modules):
    code = (f"import sys, {modules}; "
            "print(sorted(m for m in sys.modules if m.startswith('ganzoo.train')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def _calls(path, names):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in names:
                yield node.lineno


def test_the_plugin_host_is_fetched_only_at_entry_points():
    def entry_point(path):  # the Python API, the CLI, and the host itself
        return (path == PACKAGE / "__init__.py" or PACKAGE / "cli" in path.parents
                or PACKAGE / "host" in path.parents)

    offenders = [f"{path.relative_to(ROOT)}:{line}"
                 for path in sorted(PACKAGE.rglob("*.py")) if not entry_point(path)
                 for line in _calls(path, {"get_host", "get_table"})]
    assert offenders == [], "pass the name table down instead of fetching it: " + ", ".join(
        offenders)


def test_every_module_is_small_enough_to_have_one_job():
    sizes = {path.relative_to(ROOT): len(path.read_text(encoding="utf-8").splitlines())
             for path in PACKAGE.rglob("*.py")}
    assert {path: n for path, n in sizes.items() if n > MAX_LINES} == {}


@pytest.mark.parametrize("hook", sorted(HOOK_KINDS))
def test_register_protocols_match_what_register_accepts(hook):
    """Each typed callback in ganzoo.hooktypes names exactly the fields its component takes."""
    kind, component = HOOK_KINDS[hook]
    protocol = next(cls for cls in vars(hooktypes).values()
                    if inspect.isclass(cls) and cls.__module__ == hooktypes.__name__
                    and cls.__name__ == "Register" + "".join(
                        part.title() for part in kind.split("_")))
    params = set(inspect.signature(protocol.__call__).parameters) - {"self", "replaces"}
    fields = {f.name for f in dataclasses.fields(component)}
    if kind == "recipe":  # register(name, recipe, source=PATH): the rest is in the mapping
        assert params == {"name", "recipe", "source"}
    else:
        assert params == fields
