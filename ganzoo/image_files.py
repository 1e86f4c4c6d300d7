"""Where sampled images go, chosen by ``-o``: one PNG grid, a folder of PNGs (one file per
image, the layout torch-fidelity and clean-fid read; resumable), an ``.npz`` of uint8 pixels
(with the labels of a conditional generator), or a looped walk, GIF or MP4
(:mod:`ganzoo.video`), through latents or, for a conditional generator, through classes.

numpy and Pillow only: ``ganzoo sample`` (torch) and ``ganzoo generate`` (onnxruntime) hand
:func:`write_samples` a function that turns latents into uint8 NHWC pixels, and both write the
same files for a seed. Every output records how it was drawn (source, step, seed, truncation,
classes): a PNG text chunk, the folder's ``ganzoo-samples.json``, an ``info`` entry of the
``.npz``, the walk's comment.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from ganzoo.errors import GanzooError
from ganzoo.fileio import TEMP_MARK, atomic_write, fsync_dir
from ganzoo.images import MAX_GRID, cannot_write, check_output, make_grid
from ganzoo.latents import class_labels, class_walk, sample_latents, walk_latents
from ganzoo.video import GIF, MP4, encode_walk, mp4_codec

GRID, FOLDER, NPZ = "grid", "folder", "npz"
WALKS = (GIF, MP4)
SUFFIXES = {".npz": NPZ, ".gif": GIF, ".mp4": MP4}  # the kinds a suffix names (else a grid)
MAX_FOLDER = 1_000_000  # six-digit file names
MANIFEST = "ganzoo-samples.json"
BATCH = 256

# latents [N, nz] and labels [N] (float class weights [N, classes] in a class walk) or None
# -> uint8 NHWC pixels [N, H, W, C]
Draw = Callable[[np.ndarray, np.ndarray | None], np.ndarray]
Progress = Callable[[int], None]  # images (or frames) just written


@dataclass(frozen=True)
class Request:
    """What to draw: ``n`` images (or walks) for ``seed``, and how it is recorded;
    ``class_walk``: walks keep their latents and move through classes."""

    n: int
    nz: int
    num_classes: int = 0
    seed: int = 0
    class_index: int | None = None
    truncation: float | None = None
    info: dict[str, Any] | None = None  # source, step, ... (recorded beside the images)
    class_walk: bool = False

    def record(self) -> dict[str, Any]:
        drawn = {"seed": self.seed, "truncation": self.truncation, "latent_sampler":
                 "ganzoo-normal/1", "nz": self.nz}
        if self.num_classes and self.class_walk:
            start = (f"class {self.class_index}" if self.class_index is not None
                     else f"class i % {self.num_classes}")
            drawn["classes"] = f"walk i goes from {start} through the next classes in turn"
        elif self.num_classes:
            drawn["classes"] = (f"all {self.class_index}" if self.class_index is not None
                                else f"image i has class i % {self.num_classes}")
        return {**(self.info or {}), **drawn}


def output_kind(path: Path) -> str:
    """:data:`GRID`, :data:`FOLDER` (a folder, or a name without a suffix), :data:`NPZ`,
    :data:`GIF` or :data:`MP4`, by ``path``; an unknown suffix is an error naming the
    choices."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir() or not suffix:
        return FOLDER
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    if Image.registered_extensions().get(suffix) not in Image.SAVE:
        raise GanzooError(f"cannot write images to {path}: unknown suffix {path.suffix}; use "
                          ".png (one grid), a folder name (one PNG per image), .npz (a uint8 "
                          "array), or .gif or .mp4 (a walk, with --interpolate)")
    return GRID


def check_request(kind: str, n: int, path: Path, interpolate: int | None, *,
                  class_walk: bool = False) -> None:
    """Fail before any model loads: a count the output cannot hold, a walk option on an
    output that is no walk (and the other way round), an .mp4 without its encoder."""
    if n < 1:
        raise GanzooError(f"-n must be at least 1, got {n}")
    if interpolate is not None and kind not in WALKS:
        raise GanzooError(f"--interpolate makes a looped GIF of latent walks; name a .gif with "
                          f"-o, or an .mp4 for a video (got {path})")
    if kind in WALKS and interpolate is None:
        raise GanzooError(f"{path} is a {'GIF' if kind == GIF else 'video'}: add --interpolate "
                          "K to walk through K latents")
    if class_walk and interpolate is None:
        raise GanzooError("--class-walk is a kind of walk: add --interpolate K (the classes "
                          "each cell visits) and name a .gif or an .mp4 with -o")
    if kind == MP4:
        mp4_codec()
    if kind in (GRID, *WALKS) and n > MAX_GRID:
        raise GanzooError(f"-n {n} is more than one grid holds ({MAX_GRID}); write them to a "
                          "folder (-o DIR, one PNG per image) or an .npz, or score many "
                          "samples with 'ganzoo eval -n N'")
    if kind == FOLDER and n > MAX_FOLDER:
        raise GanzooError(f"-n {n} is more than one folder holds ({MAX_FOLDER}); write an "
                          ".npz or several folders with different --seed values")
    if kind in (GRID, NPZ, *WALKS):
        check_output(path if kind == GRID else path.with_suffix(".png"))


def write_samples(kind: str, path: Path, request: Request, draw: Draw, *, nrow: int | None = None,
                  keys: int = 4, frames: int = 16, fps: float = 16.0,
                  progress: Progress | None = None) -> tuple[Path, int]:
    """Draw ``request`` with ``draw`` and write it to ``path`` as ``kind``: (path, how many
    images this call drew; fewer than ``n`` when a folder already held some)."""
    progress = progress or (lambda done: None)
    if kind == FOLDER:
        return SampleFolder(path, request).fill(draw, progress)
    if kind in WALKS:
        return _write_walk(kind, path, request, draw, nrow, keys, frames, fps, progress)
    z = sample_latents(request.n, request.nz, request.seed, request.truncation)
    labels = class_labels(request.n, request.num_classes, request.class_index)
    pixels = np.concatenate([_drawn(draw, z, labels, start, progress)
                             for start in range(0, request.n, BATCH)])
    if kind == NPZ:
        _write_npz(path, pixels, labels, request)
    else:
        write_png_grid(pixels, path, nrow, request.record())
    return path, request.n


def _drawn(draw: Draw, z: np.ndarray, labels: np.ndarray | None, start: int,
           progress: Progress) -> np.ndarray:
    stop = start + BATCH
    pixels = np.asarray(draw(z[start:stop], None if labels is None else labels[start:stop]),
                        dtype=np.uint8)
    progress(len(pixels))
    return pixels


def _write_file(path: Path, data: bytes | memoryview, *, durable: bool = True) -> None:
    try:
        atomic_write(path, data, durable=durable)
    except OSError as exc:
        raise cannot_write(path, exc) from exc


def _image(pixels_hwc: np.ndarray) -> Image.Image:
    return Image.fromarray(pixels_hwc[..., 0] if pixels_hwc.shape[-1] == 1 else pixels_hwc)


def write_png_grid(pixels: np.ndarray, path: Path, nrow: int | None,
                   record: dict[str, Any]) -> Path:
    """uint8 NHWC ``pixels`` as one grid at ``path`` (PNG: ``record`` in a text chunk)."""
    buffer = io.BytesIO()
    image = _image(make_grid(pixels, nrow))
    if Path(path).suffix.lower() == ".png":
        text = PngImagePlugin.PngInfo()
        text.add_text("ganzoo", json.dumps(record, sort_keys=True))
        image.save(buffer, "PNG", pnginfo=text)
    else:
        image.save(buffer, Image.registered_extensions()[Path(path).suffix.lower()])
    _write_file(Path(path), buffer.getbuffer())
    return Path(path)


def _write_npz(path: Path, pixels: np.ndarray, labels: np.ndarray | None,
               request: Request) -> None:
    arrays = {"images": pixels, "info": np.array(json.dumps(request.record(), sort_keys=True))}
    if labels is not None:
        arrays["labels"] = labels
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    _write_file(path, buffer.getbuffer())


def _write_walk(kind: str, path: Path, request: Request, draw: Draw, nrow: int | None,
                keys: int, frames: int, fps: float, progress: Progress) -> tuple[Path, int]:
    r = request
    if r.class_walk:  # the grid's latents, fixed; class weights move
        z = sample_latents(r.n, r.nz, r.seed, r.truncation)
        steps = [(z, weights) for weights in class_walk(r.n, keys, frames, r.num_classes,
                                                        r.class_index)]
    else:
        labels = class_labels(r.n, r.num_classes, r.class_index)
        steps = [(frame, labels) for frame in walk_latents(r.n, keys, frames, r.nz, r.seed,
                                                             r.truncation)]

    def grids():  # one frame's grid at a time, encoded as it is drawn
        for z_frame, labels_frame in steps:
            pixels = np.asarray(draw(z_frame, labels_frame), dtype=np.uint8)
            progress(1)
            yield make_grid(pixels, nrow)

    walk = {"through": "classes" if r.class_walk else "latents", "keys": keys,
            "frames": frames, "fps": fps}
    data, count = encode_walk(kind, grids(), fps, {**r.record(), "walk": walk})
    _write_file(path, data)
    return path, count


class SampleFolder:
    """A folder of ``000000.png`` ... written in batches; a rerun after an interrupt draws
    only the images still missing (a file that is there and opens as a PNG is kept).

    ``ganzoo-samples.json`` records the request; a rerun with another seed, truncation, class
    or model into the same folder is refused, so a folder never mixes two requests.
    """

    def __init__(self, path: Path, request: Request) -> None:
        self.path, self.request = Path(path), request
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GanzooError(f"cannot make the folder {self.path} ({exc.strerror}); choose "
                              "another -o") from exc
        self._claim()

    def _claim(self) -> None:
        manifest = self.path / MANIFEST
        record = self.request.record()
        if manifest.is_file():
            try:
                before = json.loads(manifest.read_text())
            except (OSError, ValueError) as exc:
                raise GanzooError(f"{manifest} cannot be read ({exc}); remove it, or write "
                                  "to another folder") from exc
            changed = sorted(key for key in set(before) | set(record)
                             if key not in ("n", "source") and before.get(key) != record.get(key))
            if changed:
                raise GanzooError(
                    f"{self.path} holds samples of another request ({', '.join(changed)} "
                    f"differ: {', '.join(f'{k} {before.get(k)!r}' for k in changed)}); rerun "
                    "with the same options to finish it, or choose an empty folder")
            record["n"] = max(int(before.get("n", 0)), self.request.n)
        else:
            record["n"] = self.request.n
            if any(self.path.glob("*.png")):
                raise GanzooError(f"{self.path} already holds PNG files that ganzoo did not "
                                  "write; choose an empty folder")
        _write_file(manifest, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())

    def file(self, index: int) -> Path:
        return self.path / f"{index:06d}.png"

    def missing(self) -> np.ndarray:
        """Indices below ``n`` whose file is absent or not a whole PNG (and removes the
        hidden temporary files an interrupted write left)."""
        for stale in self.path.glob(f".*.png{TEMP_MARK}*"):
            stale.unlink(missing_ok=True)
        return np.array([i for i in range(self.request.n) if not _is_png(self.file(i))],
                        dtype=np.int64)

    def fill(self, draw: Draw, progress: Progress) -> tuple[Path, int]:
        r = self.request
        todo = self.missing()
        if not todo.size:
            return self.path, 0
        z = sample_latents(r.n, r.nz, r.seed, r.truncation)
        labels = class_labels(r.n, r.num_classes, r.class_index)
        for start in range(0, len(todo), BATCH):
            chunk = todo[start:start + BATCH]
            pixels = np.asarray(draw(z[chunk], None if labels is None else labels[chunk]),
                                dtype=np.uint8)
            for index, image in zip(chunk, pixels, strict=True):
                buffer = io.BytesIO()
                _image(image).save(buffer, "PNG")
                # each file whole or absent; one folder fsync per batch, not one per file
                _write_file(self.file(int(index)), buffer.getbuffer(), durable=False)
            fsync_dir(self.path)
            progress(len(chunk))
        return self.path, len(todo)


def _is_png(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        with Image.open(path) as image:
            image.verify()
    except (OSError, SyntaxError, ValueError):
        return False
    return True


def count_pngs(path: Path) -> int:
    """How many whole PNGs a sample folder holds (for messages after an interrupt)."""
    return sum(_is_png(p) for p in Path(path).glob("[0-9]*.png")) if os.path.isdir(path) else 0
