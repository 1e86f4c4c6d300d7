"""Crash-safe file writes and safe file names (no torch: the runtime and image code use it).

A write goes to a hidden temporary file in the target's folder, is fsynced, renamed over the
target, and the folder is fsynced: after a crash (``kill -9``, power loss) readers see the old
file or the whole new one, never half. The temporary file is created exclusively and never
through a symbolic link, so a planted link cannot redirect the write elsewhere.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TEMP_MARK = ".tmp-"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def temp_path_for(path: Path) -> Path:
    """Where :func:`atomic_write` stages ``path`` (hidden, named after the writing process)."""
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")


def _write_all(fd: int, chunks: Iterable[bytes | memoryview]) -> None:
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            written = os.write(fd, view)
            view = view[written:]


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_temp(path: Path) -> tuple[Path, int]:
    """Create ``path``'s temporary file (:func:`temp_path_for`) for writing, exclusively and
    never through a symbolic link: its path and an open file descriptor."""
    tmp = temp_path_for(path)
    tmp.unlink(missing_ok=True)  # a leftover of an earlier process with our pid, or a link
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return tmp, os.open(tmp, flags, 0o644)


def write_fd(fd: int, chunks: Iterable[bytes | memoryview]) -> None:
    """Write every chunk to ``fd`` and fsync it (the descriptor stays open)."""
    _write_all(fd, chunks)
    os.fsync(fd)


def atomic_write(path: Path, chunks: Iterable[bytes | memoryview] | bytes, *,
                 durable: bool = True) -> None:
    """Write ``chunks`` to ``path`` so that readers see the old file or the whole new one.

    On any failure (disk full, interrupt) the temporary file is removed and the old ``path``
    is left as it was; the exception propagates. ``durable=False`` skips the two fsyncs, for
    many small files whose reader checks them (a power cut may then leave one empty).
    """
    if isinstance(chunks, (bytes, bytearray, memoryview)):
        chunks = [chunks]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = open_temp(path)
    try:
        try:
            if durable:
                write_fd(fd, chunks)
            else:
                _write_all(fd, chunks)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def cache_dir() -> Path:
    """ganzoo's cache (reference statistics, downloaded weights): ``GANZOO_CACHE_DIR`` or
    ``~/.cache/ganzoo``."""
    return Path(os.environ.get("GANZOO_CACHE_DIR") or Path.home() / ".cache" / "ganzoo")


def safe_filename(name: str, fallback: str = "run", max_length: int = 64) -> str:
    """``name`` (a recipe, plugin or model name) as one harmless path component.

    Only letters, digits, ``.``, ``_`` and ``-`` survive; no leading dot (no ``..``, no hidden
    files); at most ``max_length`` characters. A name can never reach outside its folder.
    """
    safe = _UNSAFE.sub("-", name).lstrip(".-")[:max_length].rstrip(".-")
    return safe or fallback
