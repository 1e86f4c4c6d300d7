"""Loaders for image folders, ``.npz`` arrays and IDX files, decoded once into memory.

Policy for undecodable files in a folder (corrupt, truncated, decompression bombs): each is
skipped with one warning naming it, and the run goes on with the rest; a folder where nothing
decodes is an error. Pillow's decompression-bomb limit stays on.
"""

from __future__ import annotations

import gzip
import sys
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganzoo.components import NameTable
from ganzoo.data.dataset import ImageData, resize_images
from ganzoo.errors import GanzooError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


# -- IDX (the MNIST family's format) ---------------------------------------------------------


def _open_maybe_gz(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as a numpy array; only the uint8 variant is accepted."""
    try:
        with _open_maybe_gz(path) as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise GanzooError(f"cannot read IDX file {path}: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise GanzooError(f"{path} is not a uint8 IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(dims)):
        raise GanzooError(f"{path} is truncated or has trailing bytes: header says {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_idx_pair(images: Path, labels: Path | None = None) -> ImageData:
    """IDX images ``[N, H, W]`` and, if given, their IDX labels ``[N]``."""
    arr = read_idx(images)
    if arr.ndim != 3:
        raise GanzooError(f"{images}: expected IDX images [N, H, W], got shape {arr.shape}")
    label_t = None
    if labels is not None:
        lab = read_idx(labels)
        if lab.shape != (arr.shape[0],):
            raise GanzooError(f"{labels}: expected {arr.shape[0]} labels, got shape {lab.shape}")
        label_t = torch.from_numpy(lab.astype(np.int64))
    return ImageData(torch.from_numpy(arr.copy())[:, None], label_t, source=str(images))


def _idx_labels_for(images: Path) -> Path | None:
    candidate = images.with_name(images.name.replace("images-idx3", "labels-idx1"))
    return candidate if candidate != images and candidate.is_file() else None


# -- .npz ------------------------------------------------------------------------------------


NPZ_KEYS = ("images", "labels")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an .npz is a zip archive (or an empty one)


def load_npz(path: Path) -> ImageData:
    """An ``.npz`` holding the array ``images`` (uint8 [N,H,W], [N,H,W,C] or [N,C,H,W], C in
    {1,3}) and optionally ``labels`` (N non-negative integers), loaded with
    ``allow_pickle=False``.

    The rule is by name only: ``images`` must be there, and any array besides ``images`` and
    ``labels`` is an error naming it, so a file is never trained on by guessing which array
    holds the pictures (``np.savez(path, arr)`` stores ``arr_0``: save ``images=arr``).
    """
    try:
        with path.open("rb") as f:
            magic = f.read(6)
    except OSError as exc:
        raise GanzooError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not magic.startswith(_ZIP_MAGIC):
        what = "a .npy file (one array)" if magic.startswith(b"\x93NUMPY") else "not an .npz file"
        raise GanzooError(f"{path} is {what}; an .npz is the zip archive np.savez writes: "
                          "np.savez(path, images=uint8_array, labels=int_array)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as exc:
        raise GanzooError(f"cannot read {path} as .npz: object arrays are refused ({exc}); "
                          "save plain numeric arrays") from exc
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as exc:
        raise GanzooError(f"cannot read {path} as .npz ({type(exc).__name__}: {exc}); it is "
                          "truncated or damaged") from exc
    if "images" not in arrays:
        raise GanzooError(f"{path} has no 'images' array (found: {', '.join(arrays) or 'none'}); "
                          "ganzoo reads the array named 'images': save it with "
                          "np.savez(path, images=uint8_array, labels=int_array)")
    extra = [k for k in arrays if k not in NPZ_KEYS]
    if extra:
        raise GanzooError(f"{path} holds arrays besides 'images' and 'labels' "
                          f"({', '.join(extra)}); save only those two, so it is clear what "
                          "ganzoo trains on")
    key = "images"
    x = arrays[key]
    if x.dtype != np.uint8:
        raise GanzooError(f"{path}: '{key}' has dtype {x.dtype}; convert to uint8 in 0..255, e.g. "
                          "(x * 255).round().astype(np.uint8)")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    elif not (x.ndim == 4 and x.shape[1] in (1, 3)):
        raise GanzooError(f"{path}: '{key}' has shape {x.shape}; expected [N, H, W], "
                          "[N, H, W, C] or [N, C, H, W] with C = 1 or 3")
    if not x.shape[0] or not x.shape[-1] or not x.shape[-2]:
        raise GanzooError(f"{path}: '{key}' has shape {x.shape}, which holds no pictures")
    labels = None
    lkey = "labels" if "labels" in arrays else None
    if lkey is not None:
        lab = arrays[lkey]
        if lab.shape != (x.shape[0],) or not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0:
            raise GanzooError(f"{path}: '{lkey}' must be {x.shape[0]} non-negative integers, "
                              f"got shape {lab.shape} dtype {lab.dtype}")
        labels = torch.from_numpy(lab.astype(np.int64))
    images = torch.from_numpy(np.ascontiguousarray(x))
    return ImageData(_center_crop(images), labels, source=str(path))


def _center_crop(images: torch.Tensor) -> torch.Tensor:
    h, w = images.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return images[..., top:top + s, left:left + s].contiguous()


# -- image folders ---------------------------------------------------------------------------


def _decode(path: Path, gray: bool, resolution: int) -> np.ndarray:
    """One image as uint8 [C, resolution, resolution]: center-cropped square, Lanczos-resized."""
    with Image.open(path) as im:
        im.load()
        if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
            arr = np.asarray(im, dtype=np.float64)
            top = 65535.0 if arr.max() > 255 else 255.0
            im = Image.fromarray((arr / top * 255.0).round().clip(0, 255).astype(np.uint8))
        if im.mode == "P":
            im = im.convert("RGBA")
        im = im.convert("L" if gray else "RGB")
        w, h = im.size
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s))
        if s != resolution:
            im = im.resize((resolution, resolution), Image.Resampling.LANCZOS)
        arr = np.asarray(im, dtype=np.uint8)
    return arr[None] if gray else arr.transpose(2, 0, 1)


def _image_mode(path: Path) -> str | None:
    try:
        with Image.open(path) as im:
            return im.mode
    except Exception:
        return None


def load_folder(root: Path, resolution: int,
                warn: Callable[[str], None] | None = None) -> ImageData:
    """Every image under ``root`` (recursively). Images in per-class subfolders get labels."""
    warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
    files = sorted(p for p in root.rglob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GanzooError(f"no images found under {root} (looked for "
                          f"{', '.join(sorted(IMAGE_SUFFIXES))}); "
                          "point --data at a folder of images")
    decoded, kept, skipped = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        modes = [_image_mode(p) for p in files]  # a bomb is refused here too, not just warned
        gray = all(m in GRAY_MODES for m in modes if m is not None)
        for path in files:
            try:
                decoded.append(_decode(path, gray, resolution))
                kept.append(path)
            except Exception as exc:  # corrupt, truncated, bomb, unsupported
                skipped.append(path)
                warn(f"skipped {path}: cannot decode ({type(exc).__name__}: {exc})")
    if not decoded:
        raise GanzooError(f"none of the {len(files)} images under {root} could be decoded")
    if skipped:
        warn(f"{len(skipped)} of {len(files)} files under {root} were skipped")
    images = torch.from_numpy(np.stack(decoded))
    tops = {p.relative_to(root).parts[0] for p in kept}
    labels, class_names = None, []
    if all(len(p.relative_to(root).parts) > 1 for p in kept) and len(tops) > 1:
        class_names = sorted(tops)
        index = {name: i for i, name in enumerate(class_names)}
        labels = torch.tensor([index[p.relative_to(root).parts[0]] for p in kept])
    return ImageData(images, labels, class_names, source=str(root))


# -- dispatch --------------------------------------------------------------------------------


def looks_like_path(spec: str) -> bool:
    return "/" in spec or spec.startswith(".") or Path(spec).exists()


def load_path(path: Path, resolution: int) -> ImageData:
    """Load ``--data PATH``: a folder, an ``.npz`` or IDX images, resized to ``resolution``."""
    if not path.exists():
        raise GanzooError(f"--data {path}: no such file or folder")
    if path.is_dir():
        return load_folder(path, resolution)
    name = path.name.lower()
    if name.endswith(".npz"):
        data = load_npz(path)
    elif "idx" in name or name.endswith("-ubyte") or name.endswith("-ubyte.gz"):
        data = load_idx_pair(path, _idx_labels_for(path))
    else:
        raise GanzooError(f"--data {path}: expected a folder of images, an .npz or IDX file")
    data.images = resize_images(data.images, resolution)
    return data


def load_data(spec: str, resolution: int, *, table: NameTable | None = None) -> ImageData:
    """A path, or a dataset name (``fashion-mnist``) looked up in ``table``, at ``resolution``."""
    if looks_like_path(spec):
        return load_path(Path(spec).expanduser(), resolution)
    if table is None:
        raise TypeError(f"load_data({spec!r}) names a dataset: pass the plugin host's name "
                        "table as table=")
    data = table.get("dataset", spec).load(resolution)
    if not isinstance(data, ImageData):
        raise GanzooError(f"dataset '{spec}' returned {type(data).__name__}, not ImageData")
    return data
