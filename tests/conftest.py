from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ganzoo import host

ROOT = Path(__file__).resolve().parent.parent
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


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python -m ganzoo ARGS`` in a real subprocess."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"ganzoo {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def read_metrics(run: Path) -> list[dict]:
    """The records of a run's ``metrics.jsonl``, in order."""
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
