"""Turning generator output into pictures: grids and PNG files (numpy + Pillow only)."""

from __future__ import annotations

import errno
import io
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ganzoo.errors import GanzooError
from ganzoo.fileio import atomic_write, open_temp

MAX_GRID = 4096  # images in one grid PNG: 64x64 cells, about 4k x 4k pixels at 64px


def check_grid_count(n: int) -> None:
    """``-n`` for a grid: at least 1, at most :data:`MAX_GRID` (a bigger grid is a picture no
    one can look at, and its images would all sit in memory at once)."""
    if n < 1:
        raise GanzooError(f"-n must be at least 1, got {n}")
    if n > MAX_GRID:
        raise GanzooError(f"-n {n} is more than one grid holds ({MAX_GRID}); make several "
                          "grids with different --seed values, or score many samples with "
                          "'ganzoo eval -n N'")


def check_nrow(nrow: int | None) -> None:
    """``--nrow``: images per grid row, at least 1 (None: a square-ish grid)."""
    if nrow is not None and nrow < 1:
        raise GanzooError(f"--nrow must be at least 1 (images per grid row), got {nrow}; drop "
                          "it for a square grid")


def image_format_for(path: Path) -> str:
    """The Pillow format that writes ``path``, by its suffix; an unknown one is an error."""
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None or image_format not in Image.SAVE:
        raise GanzooError(f"cannot write an image named {path}: unknown suffix "
                          f"{path.suffix or '(none)'}; use .png")
    return image_format


def cannot_write(path: Path, exc: OSError) -> GanzooError:
    """The one clear error for a failed write of ``path`` (read-only, disk full, a folder)."""
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return GanzooError(f"{path} is a folder; name a .png file")
    why = exc.strerror or str(exc)
    if exc.errno == errno.EROFS:
        why = f"{path.parent} is on a read-only filesystem"
    elif exc.errno in (errno.ENOENT, errno.EPERM, errno.EACCES) and path.parent.is_dir():
        why = f"the folder {path.parent} does not accept new files ({why})"
    return GanzooError(f"cannot write {path}: {why}; choose another -o in a folder you can "
                       "write to")


def check_output(path: Path) -> None:
    """Fail before any work if a grid cannot be written to ``path``: an unknown suffix, a
    folder in its place, or a folder that cannot be created or written (read-only, /proc).
    Probes with the same exclusive temporary file :func:`save_grid` stages, then removes it;
    creates no folder, and a file already at ``path`` is never touched."""
    path = Path(path)
    image_format_for(path)
    if path.is_dir():
        raise GanzooError(f"{path} is a folder; name a .png file")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the folders to create: check the one that would hold them
    if not folder.is_dir():
        raise GanzooError(f"cannot write {path}: {folder} is not a folder; choose another -o")
    try:
        if folder == path.parent:
            tmp, fd = open_temp(path)
            os.close(fd)
            tmp.unlink()
        elif not os.access(folder, os.W_OK):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
    except OSError as exc:
        raise cannot_write(path, exc) from exc


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] float NCHW -> uint8 NHWC, the same rounding the ONNX uint8 export bakes in."""
    x = (np.asarray(images, dtype=np.float32) + 1.0) * 127.5
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def make_grid(images_nhwc: np.ndarray, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile uint8 NHWC images into one HWC image with ``pad`` pixels of border."""
    check_nrow(nrow)
    n, h, w, c = images_nhwc.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), dtype=np.uint8)
    for i, img in enumerate(images_nhwc):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = img
    return grid


def save_grid(images: np.ndarray, path: Path, nrow: int | None = None,
              layout: str = "NCHW") -> Path:
    """Save generator output (float NCHW in [-1, 1], or uint8 NHWC) as a PNG grid (or any
    format Pillow writes, by suffix), atomically: a crash never leaves half an image. A
    failed write raises its OSError, with the old file at ``path`` left as it was."""
    path = Path(path)
    image_format = image_format_for(path)
    nhwc = to_uint8(images) if layout == "NCHW" else np.asarray(images, dtype=np.uint8)
    grid = make_grid(nhwc, nrow)
    buffer = io.BytesIO()
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(buffer, image_format)
    try:
        atomic_write(path, buffer.getbuffer())
    except IsADirectoryError as exc:
        raise GanzooError(f"{path} is a folder; name a .png file") from exc
    return path


def write_grid(images: np.ndarray, path: Path, nrow: int | None = None,
               layout: str = "NCHW") -> Path:
    """:func:`save_grid` for a command's ``-o``: a failed write (read-only, disk full, a
    folder that cannot hold files) is one clear error, and a file already at ``path`` is
    left as it was. (The trainer calls :func:`save_grid` and names the resume command.)"""
    try:
        return save_grid(images, path, nrow, layout)
    except OSError as exc:
        raise cannot_write(Path(path), exc) from exc
