"""The run folder: ``config.json``, ``checkpoints/``, ``samples/``, ``metrics.jsonl``."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not guarded against a second writer
    fcntl = None  # type: ignore[assignment]

import torch

from ganzoo.errors import GanzooError
from ganzoo.fileio import atomic_write, atomic_write_json, open_temp, safe_filename, write_fd


def versions() -> dict[str, str]:
    from ganzoo.version import __version__

    return {"ganzoo": __version__, "torch": torch.__version__,
            "python": platform.python_version()}


def new_run_dir(root: Path, name: str) -> Path:
    """``root/NAME-YYYYmmdd-HHMMSS`` (with a suffix if taken). NAME comes from a recipe that
    a plugin may have registered, so it is reduced to one harmless path component."""
    safe = safe_filename(name.split(":")[-1])
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
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / "config.json", config)
    except OSError as exc:
        raise GanzooError(f"cannot create the run folder {run_dir}: {exc.strerror or exc}; "
                          "choose another --out or --runs-dir") from exc


def read_config(run_dir: Path) -> dict[str, Any]:
    """A run's config.json, with the shape every reader relies on checked (the recipe inside
    is checked when it is resolved); a damaged or hand-edited file is a GanzooError."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise GanzooError(f"{run_dir} is not a ganzoo run (no config.json); "
                          "pass the folder 'ganzoo train' created")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        raise GanzooError(f"{path} is not valid JSON ({type(exc).__name__}); it was edited or "
                          "damaged") from exc
    if not isinstance(config, dict) or not isinstance(config.get("recipe"), dict):
        raise GanzooError(f"{path} has no 'recipe' section; it was not written by ganzoo train")
    data = config.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("spec"), str):
        raise GanzooError(f"{path} has no 'data.spec' entry; it was edited or not written by "
                          "ganzoo train")
    for key in ("channels", "num_classes", "count"):
        value = data.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise GanzooError(f"{path}: data.{key} must be a non-negative integer, got "
                              f"{value!r}; it was edited or damaged")
    if not isinstance(config.get("versions", {}), dict):
        raise GanzooError(f"{path}: 'versions' must be a mapping; it was edited or damaged")
    return config


LOCK_NAME = ".lock"


def check_writable(run_dir: Path) -> None:
    """Fail at once if a run folder cannot take new files (read-only filesystem, no
    permission), before anything is loaded: ``--resume`` writes checkpoints, samples and
    ``metrics.jsonl`` into it. Probes each folder with an exclusive temporary file and
    removes it; nothing that was there changes."""
    for folder in (run_dir, run_dir / "checkpoints", run_dir / "samples"):
        if not folder.is_dir():
            continue
        try:
            tmp, fd = open_temp(folder / ".write-check")
            os.close(fd)
            tmp.unlink()
        except OSError as exc:
            why = ("it is on a read-only filesystem" if exc.errno == errno.EROFS
                   else exc.strerror or str(exc))
            raise GanzooError(f"cannot write to {folder} ({why}); a resumed run writes "
                              f"checkpoints there: make {run_dir} writable, or copy it "
                              "somewhere writable and resume the copy") from exc


def _lock_holder(fd: int) -> int | None:
    """The pid holding an ``flock`` on ``fd``'s file, from Linux's /proc/locks (None
    elsewhere). Looked up rather than written into the file, so the lock file never changes."""
    st = os.fstat(fd)
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:  # "1: FLOCK  ADVISORY  WRITE 4242 00:2a:1234567 0 EOF"
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK" or parts[5].count(":") != 2:
            continue
        major, minor, inode = parts[5].split(":")
        with contextlib.suppress(ValueError):
            if ((int(major, 16), int(minor, 16), int(inode))
                    == (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)):
                return int(parts[4])
    return None


@contextlib.contextmanager
def writer_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``RUN/.lock`` while this process trains the run, so that a second ``ganzoo train
    --resume RUN`` is refused instead of interleaving its checkpoints with the first's. The
    lock is an ``flock`` on an empty file: the kernel drops it when its process ends, kill -9
    included, so a crashed run never leaves a stale lock behind."""
    if fcntl is None:
        yield
        return
    fd = os.open(run_dir / LOCK_NAME, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            raise GanzooError(
                f"{run_dir} is being trained by another process"
                f"{f' (pid {holder})' if holder else ''}; wait for it to finish or stop it "
                f"(Ctrl-C saves a checkpoint), then 'ganzoo train --resume {run_dir}'"
            ) from None
        yield
    finally:
        os.close(fd)


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """One JSON line per log step. A symbolic link in its place is refused, so a run folder
    from elsewhere cannot make ganzoo append to a file outside it."""
    path = run_dir / "metrics.jsonl"
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise GanzooError(f"{path} is a symbolic link; ganzoo does not write through links "
                              "in a run folder: replace it with a plain file") from exc
        raise
    line = (json.dumps(record) + "\n").encode()
    try:
        end = os.fstat(fd).st_size
        try:
            write_fd(fd, [line])
        except OSError:
            os.ftruncate(fd, end)  # a full disk leaves no half line behind
            raise
    finally:
        os.close(fd)


def trim_metrics(run_dir: Path, step: int) -> None:
    """Drop the records of steps after ``step`` (the checkpoint a resume starts from: they
    will run again) and a half-written last line, both left by a crash; keep the rest."""
    path = run_dir / "metrics.jsonl"
    if path.is_symlink() or not path.is_file():
        return
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    kept = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        done = record.get("step") if isinstance(record, dict) else None
        if line.endswith("\n") and not (isinstance(done, int) and done > step):
            kept.append(line)
    if kept != lines:
        atomic_write(path, "".join(kept).encode())
