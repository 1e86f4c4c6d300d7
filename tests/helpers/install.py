"""Installing a plugin package into a folder of its own, as a user's pip would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def pip_install(packages: list[Path], target: Path, scratch: Path) -> None:
    """``pip install`` into ``target``, building from copies (setuptools writes build/ and
    egg-info next to the sources, which must stay clean)."""
    copies = []
    for package in packages:
        copy = scratch / package.name
        shutil.copytree(package, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
        copies.append(str(copy))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--target", str(target), *copies],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"pip install failed:\n{proc.stdout}\n{proc.stderr}"
