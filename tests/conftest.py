from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ganzoo import host

ROOT = Path(__file__).resolve().parent.parent

# Isolation from the environment: whatever plugins are installed where the suite runs, its own
# processes (and every CLI subprocess, which inherits this) load the built-ins only. A test of
# entry-point discovery names the fixture plugins it installs with GANZOO_PLUGINS
# (``plugins_env``), so a user's or a packager's plugins never reach ganzoo's assertions.
for _switch in ("GANZOO_DISABLE_PLUGIN_AUTOLOAD", "GANZOO_DISABLE_PLUGINS", "GANZOO_PLUGIN_ERRORS"):
    os.environ.pop(_switch, None)
os.environ["GANZOO_PLUGINS"] = ""
# The runtime's default (no optimised-graph files beside models) whatever the user set.
os.environ.pop("GANZOO_ORT_CACHE", None)


def site_plugins(site: Path) -> list[str]:
    """The ``ganzoo`` entry-point names of the distributions installed in the folder ``site``."""
    names = []
    for path in sorted(site.glob("*.dist-info/entry_points.txt")):
        parser = configparser.ConfigParser(delimiters=("=",))
        parser.read(path, encoding="utf-8")
        if parser.has_section("ganzoo"):
            names += list(parser["ganzoo"])
    return names


def plugins_env(site: Path, **env: str) -> dict[str, str]:
    """Environment for a subprocess that imports from ``site`` (``PYTHONPATH``) and loads
    exactly the plugins installed there besides the built-ins (``GANZOO_PLUGINS``)."""
    path = [str(site), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(p for p in path if p),
            "GANZOO_PLUGINS": ",".join(site_plugins(site)), **env}


# Tiny models so CLI runs take seconds on two cores.
TINY = ["--set", "generator.ngf=8", "--set", "discriminator.ndf=8", "--set", "train.batch=16"]


@pytest.fixture
def one_thread():
    """Torch on one thread for in-process runs: on two busy cores that is much faster."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _fresh_plugins():
    """Each test sees a freshly loaded plugin host and leaves none behind."""
    host.reset()
    yield
    host.reset()


def run_cli(*args: str, env: dict[str, str | None] | None = None, cwd: Path | None = None,
            check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python -m ganzoo ARGS`` in a real subprocess; an ``env`` value of None unsets."""
    full_env = {k: v for k, v in {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}.items()
                if v is not None}
    proc = subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"ganzoo {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def read_metrics(run: Path) -> list[dict]:
    """The records of a run's ``metrics.jsonl``, in order."""
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
