"""ganzoo's tests pass whatever else is installed: with a third-party plugin whose short names
clash with the ones the tests use, the suite still sees the built-ins plus only the fixture
plugins each test asks for (tests/conftest.py sets GANZOO_PLUGINS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli, site_plugins
from tests.helpers.install import pip_install

FIXTURE = ROOT / "tests" / "plugins" / "ganzoo-fixture-environment"
# The tests the installed plugin broke before the suite was isolated (architecture 'mlp',
# regularizer 'lp', recipe 'mlp-gan-32'), and the module whose parameters list the recipes.
SENSITIVE = ["tests/test_distributed.py::test_gradient_accumulation_matches_the_whole_batch",
             "tests/test_regularizers.py::test_bad_regularizer_overrides",
             "tests/test_config.py"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    target = tmp_path_factory.mktemp("user-site")
    pip_install([FIXTURE], target, tmp_path_factory.mktemp("build"))
    return target


def _user_env(site) -> dict[str, str | None]:
    """What a user's shell with the plugin installed looks like: no test switches."""
    path = [str(site), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(p for p in path if p), "GANZOO_PLUGINS": None}


def test_the_plugin_is_really_there_for_a_user(site):
    assert site_plugins(site) == ["thirdparty"]
    found = {s["name"]: s for s in json.loads(
        run_cli("plugins", "list", "--json", env=_user_env(site)).stdout)}
    assert found["thirdparty"]["status"] == "loaded"
    assert {"thirdparty:mlp", "thirdparty:lp", "thirdparty:mlp-gan-32"} <= set(
        found["thirdparty"]["provides"])


def test_ganzoo_tests_pass_with_a_clashing_plugin_installed(site):
    env = {k: v for k, v in {**os.environ, **_user_env(site)}.items() if v is not None}
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only",
         "tests/test_zoo_journeys.py"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300)
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr[-2000:]
    assert "ganzoo:dcgan" in collected.stdout and "thirdparty" not in collected.stdout
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *SENSITIVE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
