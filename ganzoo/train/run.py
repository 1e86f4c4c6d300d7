"""The run folder: ``config.json``, ``checkpoints/``, ``samples/``, ``metrics.jsonl``."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.train.checkpoint import atomic_write_json


def versions() -> dict[str, str]:
    from ganzoo import __version__

    return {"ganzoo": __version__, "torch": torch.__version__,
            "python": platform.python_version()}


def new_run_dir(root: Path, name: str) -> Path:
    """``root/NAME-YYYYmmdd-HHMMSS`` (with a suffix if taken)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name.split(":")[-1])
    base = root / f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    if (run_dir / "config.json").exists():
        raise GanzooError(f"{run_dir} already holds a run; continue it with "
                          f"'ganzoo train --resume {run_dir}' or choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / "config.json", config)


def read_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.json"
    if not path.is_file():
        raise GanzooError(f"{run_dir} is not a ganzoo run (no config.json); "
                          "pass the folder 'ganzoo train' created")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GanzooError(f"{path} is not valid JSON ({exc}); it was edited or damaged") from exc
    if not isinstance(config, dict) or "recipe" not in config:
        raise GanzooError(f"{path} has no 'recipe' section; it was not written by ganzoo train")
    return config


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
