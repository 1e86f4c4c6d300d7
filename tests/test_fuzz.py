"""Fuzzed files through the readers that ``--resume``, ``sample``, ``export``, ``generate`` and
``ganzoo.runtime`` use: a real checkpoint, ``generator.safetensors``, ``generator.onnx`` and
``config.json``, each corrupted a few hundred seeded ways (byte flips, truncations, header
edits). Every case must load (when the damage is harmless) or raise a GanzooError; any other
exception, as the CLI would show it, is a traceback. In-process, so it runs in seconds.
"""

from __future__ import annotations

import json
import random
import shutil
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from ganzoo.errors import GanzooError
from ganzoo.host import get_table
from ganzoo.store import checkpoint as ckpt

CASES_PER_FILE = 100  # 400 cases in all


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """A real run (two checkpoints) and its export, made once."""
    import torch

    from ganzoo.export import export_generator
    from ganzoo.train.launch import start_run

    tmp = tmp_path_factory.mktemp("fuzz")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = start_run("dcgan", ["generator.ngf=8", "discriminator.ndf=8", "train.batch=16",
                                  "train.steps=2", "train.checkpoint_every=1"], None,
                        tmp / "run", tmp, "cpu", quiet=True, table=get_table())
        export = export_generator(run, tmp / "export", table=get_table())
    finally:
        torch.set_num_threads(threads)
    return {"run": run, "checkpoint": ckpt.list_checkpoints(run)[-1][1],
            "safetensors": export.safetensors_path, "onnx": export.onnx_path}


# -- corruptions ------------------------------------------------------------------------------


def _header_span(raw: bytes) -> tuple[int, int]:
    """Where a safetensors header's JSON lies (the whole file when it is not safetensors)."""
    if len(raw) >= 8:
        n = int.from_bytes(raw[:8], "little")
        if 8 + n <= len(raw):
            return 8, 8 + n
    return 0, len(raw)


def corrupt(raw: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One seeded corruption of ``raw``: what it did and the new bytes."""
    data = bytearray(raw)
    kind = rng.choice(["flip", "flips", "truncate", "header-byte", "header-length", "zero-run",
                       "append"])
    if kind == "flip":
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    elif kind == "flips":
        for _ in range(rng.randint(2, 64)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == "truncate":
        data = data[:rng.randrange(len(data))]
    elif kind == "header-byte":  # inside the JSON header (or the first kilobyte)
        start, stop = _header_span(raw)
        stop = min(stop, start + 1024) if start == 0 else stop
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(start, stop)] = rng.choice(b'{}[]",:0123456789-eE.tfn \x00\xff')
    elif kind == "header-length":
        data[:8] = struct.pack("<Q", rng.choice([0, 1, 7, len(raw), len(raw) - 7, 2 ** 63,
                                                 int.from_bytes(raw[:8], "little") + rng.choice(
                                                     [-9, -1, 1, 8, 4096])]))
    elif kind == "zero-run":
        i = rng.randrange(len(data))
        data[i:i + rng.randint(1, 4096)] = bytes(min(len(data) - i, 4096))
    else:
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return kind, bytes(data)


def corrupt_config(text: str, rng: random.Random) -> tuple[str, bytes]:
    """config.json damaged as bytes or as JSON (a value replaced, a key dropped)."""
    if rng.random() < 0.4:
        return corrupt(text.encode(), rng)
    config = json.loads(text)
    junk = [None, True, -3, 0, 2 ** 70, 1e308, "x", "", [], {}, [1, "a"], {"a": {}}, "nan"]

    def places(obj, path=()):
        if isinstance(obj, dict):
            for key, value in obj.items():
                yield (*path, key)
                yield from places(value, (*path, key))

    where = rng.choice(list(places(config)))
    parent = config
    for key in where[:-1]:
        parent = parent[key]
    if rng.random() < 0.3:
        del parent[where[-1]]
        return f"drop {'.'.join(where)}", json.dumps(config).encode()
    parent[where[-1]] = rng.choice(junk)
    return f"set {'.'.join(where)}", json.dumps(config).encode()


# -- the readers ------------------------------------------------------------------------------


def read_for_resume(run: Path) -> None:
    """What ``--resume`` reads before it trains: config.json, the recipe, the checkpoint."""
    from ganzoo.recipes import recipe_from_config
    from ganzoo.store.run import read_config

    recipe_from_config(read_config(run), get_table())
    if ckpt.list_checkpoints(run):
        ckpt.latest_checkpoint(run)


def read_for_sample(path: Path) -> None:
    """What ``sample``, ``eval`` and ``export`` read: a run's generator, or a file's."""
    from ganzoo.loading import load_generator

    load_generator(path, table=get_table())


def read_for_generate(path: Path) -> None:
    """What ``generate`` and the runtime do: open the session, then run it."""
    from ganzoo import runtime

    gen = runtime.Generator(path, device="cpu", threads=1)
    gen.generate(2, seed=0)


def fuzz(original: Path, target: Path, readers: list[Callable[[], None]], seed: int,
         mutate: Callable[[random.Random], tuple[str, bytes]]) -> dict[str, int]:
    """Write CASES_PER_FILE corruptions of ``original`` at ``target``, run every reader on
    each; the outcomes counted, and any exception other than GanzooError reported."""
    rng = random.Random(seed)
    counts = {"loaded": 0, "GanzooError": 0}
    failures = []
    for case in range(CASES_PER_FILE):
        what, data = mutate(rng)
        target.write_bytes(data)
        for read in readers:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a damaged model may warn; not the point
                    read()
                counts["loaded"] += 1
            except GanzooError:
                counts["GanzooError"] += 1
            except Exception as exc:  # noqa: BLE001 - exactly what the test hunts for
                failures.append(f"case {case} ({what}) in {read.__name__}: "
                                f"{type(exc).__name__}: {str(exc)[:200]}")
    shutil.copyfile(original, target)
    assert not failures, f"{len(failures)} of {CASES_PER_FILE} cases escaped:\n" + "\n".join(
        failures[:20])
    return counts


def _named(fn: Callable[..., None], *args) -> Callable[[], None]:
    def call() -> None:
        fn(*args)
    call.__name__ = fn.__name__
    return call


def test_fuzzed_checkpoints_resume_or_sample_cleanly(originals, tmp_path, one_thread):
    run = tmp_path / "run"
    shutil.copytree(originals["run"], run)
    target = run / "checkpoints" / originals["checkpoint"].name
    for _, path in ckpt.list_checkpoints(run):
        if path != target:
            path.unlink()  # the damaged file is the only one: no fallback hides a bad read
    raw = target.read_bytes()
    counts = fuzz(originals["checkpoint"], target,
                  [_named(read_for_resume, run), _named(read_for_sample, run)],
                  seed=1, mutate=lambda rng: corrupt(raw, rng))
    assert counts["GanzooError"] >= CASES_PER_FILE  # nearly every change fails its sha256


def test_fuzzed_generator_files_load_cleanly_or_fail(originals, tmp_path, one_thread):
    target = tmp_path / "generator.safetensors"
    shutil.copyfile(originals["safetensors"], target)
    raw = target.read_bytes()
    counts = fuzz(originals["safetensors"], target, [_named(read_for_sample, target)], seed=2,
                  mutate=lambda rng: corrupt(raw, rng))
    assert counts["GanzooError"] > CASES_PER_FILE // 4


def test_fuzzed_onnx_files_run_cleanly_or_fail(originals, tmp_path):
    target = tmp_path / "generator.onnx"
    shutil.copyfile(originals["onnx"], target)
    raw = target.read_bytes()
    counts = fuzz(originals["onnx"], target, [_named(read_for_generate, target)], seed=3,
                  mutate=lambda rng: corrupt(raw, rng))
    assert counts["GanzooError"] > CASES_PER_FILE // 4


def test_fuzzed_config_json_resumes_or_samples_cleanly(originals, tmp_path, one_thread):
    run = tmp_path / "run"
    shutil.copytree(originals["run"], run)
    text = (run / "config.json").read_text()
    counts = fuzz(originals["run"] / "config.json", run / "config.json",
                  [_named(read_for_resume, run), _named(read_for_sample, run)], seed=4,
                  mutate=lambda rng: corrupt_config(text, rng))
    assert counts["GanzooError"] > CASES_PER_FILE // 2
