"""A non-editable install (what ``pip install ganzoo`` gives) carries ``registry.yaml`` and the
embedded data inside the package, and finds them there."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

CHECK = """
import ganzoo, pathlib
from ganzoo import resolve_recipe
from ganzoo.host import get_table
home = pathlib.Path(ganzoo.__file__).parent
assert (home / "registry.yaml").is_file(), home
recipe = resolve_recipe("dcgan-64")
print(home, recipe.generator_arch, recipe.train.resolution,
      get_table().resolve("dataset", "fashion-mnist").full_name)
"""


@pytest.mark.slow
def test_wheel_install_finds_registry_yaml_inside_the_package(tmp_path):
    target = tmp_path / "site"
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
               "--disable-pip-version-check", "--target", str(target), str(ROOT)]
    if importlib.util.find_spec("hatchling"):
        command.append("--no-build-isolation")
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if proc.returncode and os.environ.get("GANZOO_NO_SKIP") != "1":
        pytest.skip(f"cannot build ganzoo's wheel here: {proc.stderr.strip()[-300:]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (target / "ganzoo" / "registry.yaml").is_file()
    run = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target),
                                            "GANZOO_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    home, arch, resolution, dataset = run.stdout.split()
    assert home == str(target / "ganzoo")
    assert (arch, resolution, dataset) == ("ganzoo:dcgan", "64", "ganzoo:fashion-mnist")
