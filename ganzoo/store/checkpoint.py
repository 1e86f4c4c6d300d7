"""Checkpoints as safetensors (never pickle), written atomically and checked on every read.

One file holds the full state: ``G.*``, ``D.*``, ``G_ema.*`` weights, both optimizers'
tensors (``opt_g.<param>.<key>``) with their hyper-parameters as JSON metadata, the RNG
states, and the step.

Crash safety. A write goes to a temporary file that is fsynced, renamed over the target, and
the folder is fsynced (:mod:`ganzoo.fileio`): a crash leaves the old file or the new one. The
new file is read back and verified before older checkpoints are pruned, so pruning never
removes the last good one.

Integrity. safetensors itself rejects a truncated file (the header's offsets must cover the
payload exactly), but not flipped or zeroed bytes inside it. So the metadata also carries a
SHA-256 of everything else in the file (the header's tensor index and metadata, canonically
encoded, then the payload). It lives in the header rather than a sidecar file so a checkpoint
stays one file replaced by one atomic rename: no window where data and checksum disagree.
Hashing runs at about 1-2 GB/s, small beside a checkpoint interval.

Hostile files. The header is parsed and checked here before safetensors sees it (size bounds,
JSON, dtypes, shapes, offsets that tile the payload); every problem is a GanzooError.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ganzoo.errors import GanzooError
from ganzoo.fileio import TEMP_MARK, atomic_write

FORMAT = "ganzoo-checkpoint/1"
#: ``checkpoints/best.safetensors``: the best-scoring state of a run evaluated while training
#: (not a step checkpoint, so never pruned).
BEST_NAME = "best.safetensors"
NAME = re.compile(r"^step-(\d+)\.safetensors$")
STALE_TEMP = re.compile(r"^\.step-\d+\.safetensors" + re.escape(TEMP_MARK) + r"\d+$")
DIGEST_KEY = "sha256"
MAX_HEADER_BYTES = 100 * 1024 * 1024
MAX_DIMS = 8
DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "I32": 4, "I64": 8,
               "F16": 2, "BF16": 2, "F32": 4, "F64": 8}


# -- the file format: safetensors with a digest ---------------------------------------------


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _digest(header: dict[str, Any], payload: memoryview) -> str:
    """SHA-256 of the header (without the digest itself) and the payload."""
    header = dict(header)
    meta = {k: v for k, v in header.get("__metadata__", {}).items() if k != DIGEST_KEY}
    header["__metadata__"] = meta
    h = hashlib.sha256(_canonical(header))
    h.update(b"\n")
    h.update(payload)
    return h.hexdigest()


def encode(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> list[bytes | memoryview]:
    """A safetensors file as chunks to write, its metadata carrying the digest."""
    raw = st_save(tensors, metadata=meta)
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    payload = memoryview(raw)[8 + n:]
    header.setdefault("__metadata__", {})[DIGEST_KEY] = _digest(header, payload)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads its header to 8 bytes with spaces
    return [len(text).to_bytes(8, "little"), text, payload]


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse(data: bytes, where: str) -> tuple[dict[str, Any], dict[str, str], memoryview]:
    """Check a whole safetensors file's structure: (tensor index, metadata, payload).

    Everything safetensors would trip on, or a hostile file could abuse, is a GanzooError.
    """
    def bad(why: str) -> GanzooError:
        return GanzooError(f"{where} is not a valid safetensors file: {why}; it is truncated, "
                           "damaged or was not written by ganzoo")

    if len(data) < 8:
        raise bad(f"it has {len(data)} bytes, fewer than the 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > MAX_HEADER_BYTES or 8 + n > len(data):
        raise bad(f"the header claims {n} bytes but the file has {len(data)}")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad(f"the header is not JSON ({type(exc).__name__})") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    meta = header.get("__metadata__", {})
    if not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise bad("__metadata__ must map strings to strings")
    payload = memoryview(data)[8 + n:]
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"tensor {name!r} needs exactly dtype, shape and data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPE_SIZES:
            raise bad(f"tensor {name!r} has dtype {dtype!r}; expected one of "
                      f"{', '.join(DTYPE_SIZES)}")
        if (not isinstance(shape, list) or len(shape) > MAX_DIMS
                or not all(_is_count(d) for d in shape)):
            raise bad(f"tensor {name!r} has shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_count(o) for o in offsets) or offsets[0] > offsets[1]):
            raise bad(f"tensor {name!r} has data_offsets {offsets!r}")
        if math.prod(shape) * DTYPE_SIZES[dtype] != offsets[1] - offsets[0]:
            raise bad(f"tensor {name!r}: shape {shape} of {dtype} does not fit "
                      f"{offsets[1] - offsets[0]} bytes")
        spans.append((offsets[0], offsets[1], name))
    end = 0
    for start, stop, name in sorted(spans):
        if start != end:
            raise bad(f"tensor {name!r} starts at byte {start}, expected {end} "
                      "(overlapping or gapped data)")
        end = stop
    if end != len(payload):
        raise bad(f"the tensors cover {end} bytes of a {len(payload)}-byte payload")
    return header, meta, payload


def _read_verified(path: Path, what: str) -> tuple[bytes, dict[str, str]]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise GanzooError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    header, meta, payload = parse(data, f"{what} {path}")
    want = meta.get(DIGEST_KEY)
    if want is not None and _digest(header, payload) != want:
        raise GanzooError(f"{what} {path} fails its SHA-256 check: its bytes changed after "
                          "it was written (disk damage or an edit)")
    return data, meta


def read_safetensors(path: Path, what: str = "file") -> tuple[dict[str, torch.Tensor],
                                                             dict[str, str]]:
    """Tensors and metadata of a safetensors file, checked as :func:`parse` describes and
    against its digest when it has one. Never unpickles; every failure is a GanzooError."""
    data, meta = _read_verified(path, what)
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, TypeError, RuntimeError, KeyError) as exc:
        raise GanzooError(f"{what} {path} cannot be loaded: {exc}") from exc
    return tensors, {k: v for k, v in meta.items() if k != DIGEST_KEY}


def verify_file(path: Path, what: str = "checkpoint") -> None:
    """Check a written file end to end (structure and digest) without building tensors."""
    data, meta = _read_verified(path, what)
    if DIGEST_KEY not in meta:
        raise GanzooError(f"{what} {path} has no digest")


# -- state <-> tensors -----------------------------------------------------------------------


def optimizer_to_tensors(prefix: str, opt: torch.optim.Optimizer,
                         tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    sd = opt.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    meta[f"{prefix}.param_groups"] = json.dumps(sd["param_groups"])
    meta[f"{prefix}.scalars"] = json.dumps(scalars)


def optimizer_from_tensors(prefix: str, opt: torch.optim.Optimizer,
                           tensors: dict[str, torch.Tensor], meta: dict[str, str],
                           where: str = "checkpoint") -> None:
    """Restore an optimizer; a state that does not fit its parameters is a GanzooError."""
    def bad(why: str) -> GanzooError:
        return GanzooError(f"{where}: the {prefix} optimizer state {why}; was it written by a "
                           "different architecture or config?")

    try:
        groups = json.loads(meta[f"{prefix}.param_groups"])
        scalars = json.loads(meta[f"{prefix}.scalars"])
    except KeyError as exc:
        raise bad(f"is missing ({exc.args[0]})") from None
    except (ValueError, RecursionError):
        raise bad("metadata is not JSON") from None
    params = [p for group in opt.param_groups for p in group["params"]]
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, _, key = name[len(prefix) + 1:].partition(".")
            if not index.isdigit() or not key or int(index) >= len(params):
                raise bad(f"has an unexpected tensor {name!r}")
            p = params[int(index)]
            if not value.is_floating_point():
                raise bad(f"tensor {name!r} has dtype {value.dtype}, not a floating type")
            if value.ndim and value.shape != p.shape:
                raise bad(f"tensor {name!r} has shape {list(value.shape)}, the parameter "
                          f"{list(p.shape)}")
            state.setdefault(int(index), {})[key] = value
    if not isinstance(scalars, dict):
        raise bad("scalars are not a mapping")
    for index, values in scalars.items():
        if not (isinstance(index, str) and index.isdigit() and isinstance(values, dict)):
            raise bad(f"has bad scalars for {index!r}")
        state.setdefault(int(index), {}).update(values)
    if len({frozenset(s) for s in state.values()}) > 1:
        raise bad("is incomplete: parameters have different state entries")
    try:
        opt.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise bad(f"does not match ({type(exc).__name__}: {exc})") from None


def module_to_tensors(prefix: str, module: torch.nn.Module,
                      tensors: dict[str, torch.Tensor]) -> None:
    for key, value in module.state_dict().items():
        tensors[f"{prefix}.{key}"] = value.detach().cpu().contiguous()


def module_from_tensors(prefix: str, module: torch.nn.Module,
                        tensors: dict[str, torch.Tensor], where: str) -> None:
    sd = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    expected = module.state_dict()
    missing = sorted(set(expected) - set(sd))
    extra = sorted(set(sd) - set(expected))
    if missing or extra:
        raise GanzooError(
            f"{where} does not match the model: missing {missing[:3]}, unexpected {extra[:3]}; "
            "was it written by a different architecture or config?"
        )
    for key, value in sd.items():
        if value.shape != expected[key].shape:
            raise GanzooError(f"{where}: {prefix}.{key} has shape {list(value.shape)}, the model "
                              f"expects {list(expected[key].shape)}")
        if value.dtype != expected[key].dtype:
            raise GanzooError(f"{where}: {prefix}.{key} has dtype {value.dtype}, the model "
                              f"expects {expected[key].dtype}")
    module.load_state_dict(sd)


def first_non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding NaN or Inf, if any."""
    for name, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return name
    return None


# -- the checkpoints of a run ----------------------------------------------------------------


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step-{step:07d}.safetensors"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint in a run, oldest first."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def save_checkpoint(run_dir: Path, step: int, tensors: dict[str, torch.Tensor],
                    meta: dict[str, str], keep: int) -> Path:
    """Write step ``step`` atomically, verify it reads back, then keep the newest ``keep``.

    Nothing is pruned unless the new file verified, and a failed write (disk full) leaves
    every earlier checkpoint in place and says so.
    """
    meta = {**meta, "format": FORMAT, "step": str(step)}
    path = checkpoint_path(run_dir, step)
    try:
        atomic_write(path, encode(tensors, meta))
    except OSError as exc:
        previous = [p.name for s, p in list_checkpoints(run_dir) if s != step]
        kept = f"the earlier checkpoint {previous[-1]} is intact" if previous else (
            "no earlier checkpoint exists")
        raise GanzooError(f"could not write checkpoint {path} ({exc.strerror or exc}); {kept}. "
                          f"Free some space (or fix the folder), then continue with "
                          f"'ganzoo train --resume {run_dir}'") from exc
    try:
        verify_file(path)
    except GanzooError as exc:
        path.unlink(missing_ok=True)
        raise GanzooError(f"checkpoint {path} did not read back after writing ({exc}); it was "
                          "removed and older checkpoints were kept. Check the disk") from exc
    older = [p for s, p in list_checkpoints(run_dir) if s < step]
    for old in older[:max(0, len(older) - (keep - 1))]:
        old.unlink(missing_ok=True)
    for leftover in path.parent.iterdir():  # temp files of killed writers
        if STALE_TEMP.match(leftover.name):
            leftover.unlink(missing_ok=True)
    return path


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of one checkpoint; a truncated, damaged or foreign file is an
    error."""
    tensors, meta = read_safetensors(path, "checkpoint")
    if meta.get("format") != FORMAT:
        raise GanzooError(f"{path} is not a ganzoo checkpoint (format {meta.get('format')!r})")
    if not meta.get("step", "").isdigit():
        raise GanzooError(f"checkpoint {path} has no valid step ({meta.get('step')!r})")
    return tensors, meta


def latest_checkpoint(run_dir: Path) -> tuple[Path, dict[str, torch.Tensor], dict[str, str]]:
    """The newest checkpoint that reads back whole; broken newer ones are reported and skipped."""
    found = list_checkpoints(run_dir)
    if not found:
        raise GanzooError(f"{run_dir} has no checkpoint yet: a run writes its first one after "
                          "train.checkpoint_every steps (or when it is stopped with Ctrl-C); "
                          f"continue it with 'ganzoo train --resume {run_dir}', or pass a run "
                          "that has trained")
    problems = []
    for _, path in reversed(found):
        try:
            tensors, meta = read_checkpoint(path)
            for problem in problems:
                print(f"warning: {problem}; using {path.name}", file=sys.stderr)
            return path, tensors, meta
        except GanzooError as exc:
            problems.append(str(exc))
    raise GanzooError(f"{run_dir} has no readable checkpoint ({'; '.join(problems)}); move the "
                      f"broken files out of {run_dir / 'checkpoints'} to restart it from step 0, "
                      "or start a new run with another --out")


def describe_last_good(path: Path | None) -> str:
    """How a diverged run's error names the checkpoint that is still good (or that none is)."""
    if path is None:
        return "no checkpoint was written before it"
    return f"the last good checkpoint is {path}"
