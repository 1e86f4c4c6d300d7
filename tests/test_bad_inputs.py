"""The bad-input catalogue (docs/bad-inputs.md), row by row, through the real command line.

Every row is a real ``ganzoo`` command line in its own process (see
tests/helpers/cli_batch.py, which runs them all behind one torch import). A bad input must
give exit status 2, one line starting ``error:`` that says what was wrong and how to fix it,
no traceback, and leave every file that was already there untouched. Rows where ganzoo copes
(a folder with broken files, a broken plugin, a truncated newest checkpoint) must train and
warn.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import struct
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo.host import get_table
from ganzoo.store import checkpoint as ckpt
from ganzoo.train.launch import start_run
from tests.conftest import plugins_env, run_cli
from tests.helpers.cli_batch import READ_ONLY_FAILED, Call, run_cli_batch

TINY = ["--set", "generator.ngf=8", "--set", "discriminator.ndf=8", "--set", "train.batch=16"]
ENV = {"OMP_NUM_THREADS": "1"}  # two busy cores: one thread per process is much faster


def bomb_png(side: int) -> bytes:
    """A PNG whose header claims ``side`` x ``side`` pixels: a few dozen bytes on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def write_plugin(site: Path, module: str, source: str, files: dict[str, str] | None = None) -> None:
    """A real installed distribution ``ganzoo-acme`` with a ``ganzoo`` entry point."""
    site.mkdir(parents=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    for name, text in (files or {}).items():
        (site / name).write_text(textwrap.dedent(text))
    info = site / "ganzoo_acme-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ganzoo-acme\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[ganzoo]\nacme = {module}\n")


CRASH_PLUGIN = """
    import ganzoo
    from ganzoo.zoo.dcgan import DCGANDiscriminator, DCGANGenerator

    class BoomGenerator(DCGANGenerator):
        def __init__(self, config):
            raise ValueError("acme cannot build this")

    class CrashingDiscriminator(DCGANDiscriminator):
        def forward(self, x, labels=None):
            raise RuntimeError("acme forward exploded")

    @ganzoo.hookimpl
    def register_architectures(register):
        register("boom", generator=BoomGenerator, discriminator=DCGANDiscriminator)
        register("crashing", generator=DCGANGenerator, discriminator=CrashingDiscriminator)
"""


def _crash_plugin(tmp: Path) -> Path:
    """An installed plugin with a model whose constructor raises and one whose forward does."""
    site = tmp / "site-crash"
    if not site.exists():
        write_plugin(site, "ganzoo_acme_crash", CRASH_PLUGIN)
    return site


RECIPE_FILE_PLUGIN = """
    from pathlib import Path

    import ganzoo
    from ganzoo.zoo.recipes import register_recipe_file

    @ganzoo.hookimpl
    def register_recipes(register):
        register_recipe_file(register, Path(__file__).with_name("acme_registry.yaml"))
"""


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def make_mixed_folder(root: Path) -> None:
    """Every image mode and size ganzoo must cope with, plus three files it must skip."""
    root.mkdir()
    Image.new("L", (40, 30), 90).save(root / "gray.png")
    Image.new("RGB", (64, 64), (200, 30, 30)).save(root / "rgb.jpg")
    Image.new("RGBA", (20, 50), (10, 200, 30, 128)).save(root / "rgba.png")
    Image.new("P", (33, 33), 7).save(root / "palette.png")
    Image.new("CMYK", (32, 32), (0, 128, 255, 0)).save(root / "cmyk.jpg")
    Image.fromarray(np.full((24, 24), 40000, dtype=np.uint16)).save(root / "deep16.png")
    Image.new("RGB", (100, 80), (0, 0, 250)).save(root / "wide.tif")
    Image.new("RGB", (48, 48), (120, 120, 0)).save(root / "whole.png")
    whole = (root / "whole.png").read_bytes()
    (root / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    (root / "bomb.png").write_bytes(bomb_png(30000))


# -- the rows ---------------------------------------------------------------------------------
# Each row: (id, set-up(tmp, base_run) -> Call, check(proc, ctx)). ``ctx`` holds what the
# set-up prepared. A check of None means "the standard clean error" with the given fragments.


def _onnx_export(tmp: Path, base: Path) -> Path:
    """A real ``generator.onnx`` of the base run (exported once, in-process)."""
    out = tmp / "export"
    if not (out / "generator.onnx").exists():
        from ganzoo.export import export_generator

        export_generator(base, out, table=get_table())
    return out / "generator.onnx"


def _copy_run(base: Path, tmp: Path, name: str) -> Path:
    dest = tmp / name
    shutil.copytree(base, dest)
    return dest


def _set_config(run: Path, edit) -> None:
    config = json.loads((run / "config.json").read_text())
    edit(config)
    (run / "config.json").write_text(json.dumps(config, indent=2))


ROWS: dict[str, dict] = {}


def row(name: str, *fragments: str, ok: bool = False):
    """Register a catalogue row: a set-up function returning (Call, folder to keep intact)."""
    def add(setup):
        ROWS[name] = {"setup": setup, "fragments": fragments, "ok": ok}
        return setup
    return add


@row("unknown-arch", "unknown arch 'nosuch'", "Known recipes and architectures: dcgan")
def _(tmp, base):
    return Call(["train", "--arch", "nosuch"]), None


@row("unknown-loss", "unknown loss 'nosuch'", "Known losses: bce")
def _(tmp, base):
    return Call(["train", "--set", "loss=nosuch"]), None


@row("unknown-dataset", "unknown dataset 'nosuch'", "Known datasets: fashion-mnist")
def _(tmp, base):
    return Call(["train", "--data", "nosuch"]), None


@row("missing-data-path", "no such file or folder")
def _(tmp, base):
    return Call(["train", "--data", str(tmp / "nope")]), None


@row("unknown-set-key", "has no key 'lrr': did you mean 'lr'")
def _(tmp, base):
    return Call(["train", "--set", "train.lrr=1e-4"]), None


@row("wrong-set-type", "generator.ngf must be an integer, got 'wide'")
def _(tmp, base):
    return Call(["train", "--set", "generator.ngf=wide"]), None


@row("negative-lr", "train.lr must be a positive learning rate, got -0.001")
def _(tmp, base):
    return Call(["train", "--set", "train.lr=-0.001"]), None


@row("resolution-not-power-of-two", "train.resolution must be a power of two", "got 48")
def _(tmp, base):
    return Call(["train", "--set", "train.resolution=48"]), None


@row("model-width-zero", "generator.ngf must be between 1 and 65536, got 0",
     "--set generator.ngf=N (the default is 64)")
def _(tmp, base):
    return Call(["train", "--out", str(tmp / "width-zero"), *TINY,
                 "--set", "generator.ngf=0"]), None


@row("model-size-huge", "generator.nz must be between 1 and 65536, got 1099511627776")
def _(tmp, base):
    return Call(["train", "--out", str(tmp / "size-huge"), *TINY,
                 "--set", "generator.nz=1099511627776"]), None


@row("generator-file-huge-nz", "generator.safetensors: its metadata was edited or damaged",
     "generator.nz must be between 1 and 65536, got 1099511627776", "ganzoo export RUN")
def _(tmp, base):
    from ganzoo import load_generator
    from ganzoo.store.generator_file import generator_bytes

    G, info = load_generator(base)
    config = {**dataclasses.asdict(info["generator_config"]), "nz": 1 << 40}
    folder = tmp / "huge-file"
    folder.mkdir()
    (folder / "generator.safetensors").write_bytes(
        generator_bytes(G, info["arch"], config, info["step"], info["recipe_name"]))
    return Call(["sample", str(folder / "generator.safetensors"), "-o",
                 str(tmp / "huge.png")]), folder


@row("plugin-model-cannot-be-built", "cannot build the generator of architecture 'acme:boom'",
     "ValueError: acme cannot build this", "check the generator.* values")
def _(tmp, base):
    return Call(["train", "--arch", "boom", "--out", str(tmp / "boom-run"), *TINY],
                env=plugins_env(_crash_plugin(tmp))), None


@row("plugin-model-raises-in-training", "plugin code failed: RuntimeError: acme forward "
     "exploded (in ", "ganzoo_acme_crash.py:", "run with --debug for the traceback")
def _(tmp, base):
    return Call(["train", "--arch", "crashing", "--out", str(tmp / "crash-run"), *TINY],
                env=plugins_env(_crash_plugin(tmp))), None


@row("set-without-value", "write KEY=VALUE")
def _(tmp, base):
    return Call(["train", "--set", "train.lr"]), None


@row("registry-entry-unknown-key", "acme_registry.yaml", "recipe 'acme-dcgan'",
     "generator has no key 'ngff': did you mean 'ngf'")
def _(tmp, base):
    site = tmp / "site-recipe"
    write_plugin(site, "ganzoo_acme", RECIPE_FILE_PLUGIN, {"acme_registry.yaml": """
        acme-dcgan:
          generator: {arch: dcgan, ngff: 8}
          discriminator: {arch: dcgan}
    """})
    return Call(["train", "--arch", "acme-dcgan"], env=plugins_env(site)), None


@row("registry-entry-malformed", "acme_registry.yaml) has no key 'trian': did you mean 'train'",
     "recipe 'acme:acme-typo' was dropped when its plugin loaded")
def _(tmp, base):
    site = tmp / "site-typo"
    write_plugin(site, "ganzoo_acme", RECIPE_FILE_PLUGIN, {"acme_registry.yaml": """
        acme-typo:
          generator: {arch: dcgan}
          discriminator: {arch: dcgan}
          trian: {steps: 3}
    """})
    return Call(["train", "--arch", "acme-typo"], env=plugins_env(site)), None


# Item 7 of issue 22: every recipe is checked at load, each bad one dropped alone.
BAD_AND_GOOD_RECIPES = """
    acme-good:
      generator: {arch: dcgan}
      discriminator: {arch: dcgan}
    acme-bad-train:
      generator: {arch: dcgan}
      discriminator: {arch: dcgan}
      train: {batch: many}
    acme-bad-generator:
      generator: {arch: dcgan, ngf: wide}
      discriminator: {arch: dcgan}
"""


def _bad_and_good_recipes(tmp: Path) -> Path:
    site = tmp / "site-bad-and-good"
    if not site.exists():
        write_plugin(site, "ganzoo_acme", RECIPE_FILE_PLUGIN,
                     {"acme_registry.yaml": BAD_AND_GOOD_RECIPES})
    return site


@row("registry-entry-wrong-type-train", "recipe 'acme:acme-bad-train' was dropped when its "
     "plugin loaded", "acme_registry.yaml): train.batch must be an integer, got 'many'")
def _(tmp, base):
    return Call(["train", "--arch", "acme-bad-train"],
                env=plugins_env(_bad_and_good_recipes(tmp))), None


@row("registry-entry-wrong-type-generator", "recipe 'acme:acme-bad-generator' was dropped "
     "when its plugin loaded", "acme_registry.yaml): generator.ngf must be an integer, got 'wide'")
def _(tmp, base):
    return Call(["train", "--arch", "acme-bad-generator"],
                env=plugins_env(_bad_and_good_recipes(tmp))), None


@row("registry-bad-entries-keep-the-good-ones",
     "plugin 'acme' (ganzoo-acme 0.3): recipe 'acme:acme-bad-train' was dropped, the rest of "
     "the plugin loaded", "recipe 'acme:acme-bad-generator' was dropped, the rest", ok=True)
def _(tmp, base):
    return Call(["train", "--arch", "acme-good", "--steps", "1", "--out",
                 str(tmp / "good-recipe-run"), *TINY, "-q"],
                env=plugins_env(_bad_and_good_recipes(tmp))), None


@row("loss-unknown-parameter", "loss 'ganzoo:lsgan' has no parameter 'd'",
     "its parameters, with their defaults: a 0, b 1, c 1", "ganzoo zoo list --losses")
def _(tmp, base):
    return Call(["train", "--set", "loss=lsgan", "--set", "loss.d=1"]), None


@row("loss-parameter-wrong-type", "loss.a must be a number, got 'high'",
     "a float parameter of loss 'ganzoo:lsgan', default 0.0")
def _(tmp, base):
    return Call(["train", "--set", "loss={name: lsgan, a: high}"]), None


@row("loss-without-parameters", "loss 'ganzoo:bce-ns' takes no parameters, got 'margin'; "
     "write its name alone (loss: bce-ns)")
def _(tmp, base):
    return Call(["train", "--set", "loss.margin=2"]), None


@row("registry-not-yaml", "acme_registry.yaml is not valid YAML", "unknown arch 'acme-x'")
def _(tmp, base):
    site = tmp / "site-yaml"
    write_plugin(site, "ganzoo_acme", RECIPE_FILE_PLUGIN,
                 {"acme_registry.yaml": "acme-x: {generator: [\n"})
    return Call(["train", "--arch", "acme-x"], env=plugins_env(site)), None


@row("broken-plugin", "plugin 'acme' (ganzoo-acme 0.3) failed to load and was skipped",
     "RuntimeError: acme exploded", ok=True)
def _(tmp, base):
    site = tmp / "site-broken"
    write_plugin(site, "ganzoo_acme_broken", """
        import ganzoo

        @ganzoo.hookimpl
        def register_losses(register):
            register("fine", d_loss=lambda r, f: r.mean(), g_loss=lambda f, r: f.mean())
            raise RuntimeError("acme exploded")
    """)
    return Call(["train", "--steps", "1", "--out", str(tmp / "broken-plugin-run"), *TINY, "-q"],
                env=plugins_env(site)), None


@row("empty-image-folder", "no images found under", "point --data at a folder of images")
def _(tmp, base):
    (tmp / "empty").mkdir()
    return Call(["train", "--data", str(tmp / "empty")]), None


@row("mixed-image-folder", "truncated.png: cannot decode", "corrupt.jpg: cannot decode",
     "bomb.png: cannot decode", "decompression bomb", "3 of 11 files", ok=True)
def _(tmp, base):
    make_mixed_folder(tmp / "mixed")
    return Call(["train", "--data", str(tmp / "mixed"), "--steps", "2", "--out",
                 str(tmp / "mixed-run"), *TINY, "--set", "train.batch=4", "-q"]), None


@row("npz-wrong-dtype", "'images' has dtype float32; convert to uint8")
def _(tmp, base):
    np.savez(tmp / "float.npz", images=np.zeros((20, 8, 8), dtype=np.float32))
    return Call(["train", "--data", str(tmp / "float.npz")]), None


@row("npz-wrong-shape", "'images' has shape (20, 8, 8, 2); expected [N, H, W]")
def _(tmp, base):
    np.savez(tmp / "shape.npz", images=np.zeros((20, 8, 8, 2), dtype=np.uint8))
    return Call(["train", "--data", str(tmp / "shape.npz")]), None


@row("npz-with-pickled-objects", "object arrays are refused")
def _(tmp, base):
    np.savez(tmp / "objects.npz", images=np.array([{"a": 1}, None], dtype=object))
    return Call(["train", "--data", str(tmp / "objects.npz")]), None


@row("npz-not-an-npz", "is not an .npz file", "np.savez(path, images=uint8_array")
def _(tmp, base):
    (tmp / "text.npz").write_text("just some text, not an archive\n")
    return Call(["train", "--data", str(tmp / "text.npz")]), None


@row("npz-without-images-key", "has no 'images' array (found: arr_0)",
     "ganzoo reads the array named 'images'")
def _(tmp, base):
    np.savez(tmp / "unnamed.npz", np.zeros((40, 8, 8), dtype=np.uint8))  # stored as arr_0
    return Call(["train", "--data", str(tmp / "unnamed.npz")]), None


@row("npz-with-another-array", "holds arrays besides 'images' and 'labels' (extra)",
     "save only those two")
def _(tmp, base):
    np.savez(tmp / "extra.npz", images=np.zeros((40, 8, 8), dtype=np.uint8),
             extra=np.zeros(40, dtype=np.uint8))
    return Call(["train", "--data", str(tmp / "extra.npz")]), None


@row("dataset-smaller-than-a-batch", "small.npz has 32 images, fewer than one batch of 64",
     "pass --batch 32 or less")
def _(tmp, base):
    np.savez(tmp / "small.npz", images=np.zeros((32, 8, 8), dtype=np.uint8))
    return Call(["train", "--data", str(tmp / "small.npz"), "--out", str(tmp / "small-run"),
                 "--set", "generator.ngf=8", "--set", "discriminator.ndf=8"]), None


@row("resume-config-unknown-key", "config.json does not match this ganzoo",
     "generator has no key 'foo'", "undo the edit")
def _(tmp, base):
    run = _copy_run(base, tmp, "edited-config")
    _set_config(run, lambda c: c["recipe"]["generator"].update(foo=1))
    return Call(["train", "--resume", str(run)]), run


@row("resume-config-missing-plugin", "config.json does not match this ganzoo",
     "unknown architecture 'acme:gan'", "plugins included")
def _(tmp, base):
    run = _copy_run(base, tmp, "missing-plugin")
    _set_config(run, lambda c: c["recipe"]["generator"].update(arch="acme:gan"))
    return Call(["train", "--resume", str(run)]), run


@row("resume-config-bad-size", "config.json does not match this ganzoo",
     "generator.ngf must be between 1 and 65536, got -3", "undo the edit")
def _(tmp, base):
    run = _copy_run(base, tmp, "bad-size")
    _set_config(run, lambda c: c["recipe"]["generator"].update(ngf=-3))
    return Call(["train", "--resume", str(run)]), run


@row("resume-different-arch", "that run trains 'dcgan', not 'dcgan-64'", "drop --arch")
def _(tmp, base):
    run = _copy_run(base, tmp, "other-arch")
    return Call(["train", "--resume", str(run), "--arch", "dcgan-64"]), run


@row("resume-changed-option", "--resume continues a run exactly as configured", "drop --seed")
def _(tmp, base):
    run = _copy_run(base, tmp, "changed-option")
    return Call(["train", "--resume", str(run), "--seed", "0"]), run


@row("resume-not-a-run", "is not a ganzoo run (no config.json)")
def _(tmp, base):
    (tmp / "not-a-run").mkdir()
    return Call(["train", "--resume", str(tmp / "not-a-run")]), None


@row("truncated-newest-checkpoint", "step-0000004.safetensors is not a valid safetensors",
     "using step-0000002.safetensors", ok=True)
def _(tmp, base):
    run = _copy_run(base, tmp, "truncated")
    newest = run / "checkpoints" / "step-0000004.safetensors"
    newest.write_bytes(newest.read_bytes()[:5000])
    return Call(["train", "--resume", str(run), "--steps", "6", "-q"]), None


@row("no-readable-checkpoint", "has no readable checkpoint", "move the broken files out")
def _(tmp, base):
    run = _copy_run(base, tmp, "all-truncated")
    for _, path in ckpt.list_checkpoints(run):
        path.write_bytes(path.read_bytes()[:-7])
    return Call(["train", "--resume", str(run)]), run


@row("resume-read-only-run", "cannot write to", "a resumed run writes checkpoints there",
     "make ", "writable")
def _(tmp, base):
    run = _copy_run(base, tmp, "read-only-run")
    # a data path that does not exist: the writability check must come before the data loads
    _set_config(run, lambda c: c["data"].update(spec=str(tmp / "no-such-data.npz")))
    return Call(["train", "--resume", str(run)], read_only=[run]), run


@row("out-already-a-run", "already holds a run", "choose another --out")
def _(tmp, base):
    run = _copy_run(base, tmp, "taken")
    return Call(["train", "--out", str(run), *TINY]), run


@row("out-is-a-file", "cannot create the run folder", "choose another --out")
def _(tmp, base):
    (tmp / "a-file").write_text("mine\n")
    return Call(["train", "--out", str(tmp / "a-file" / "run"), *TINY]), None


@row("metrics-file-is-a-symlink", "metrics.jsonl is a symbolic link")
def _(tmp, base):
    run = _copy_run(base, tmp, "linked")
    outside = tmp / "outside.txt"
    outside.write_text("precious\n")
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(outside)
    return Call(["train", "--resume", str(run), "--steps", "5", "-q"]), run


@row("learning-rate-diverges", "training diverged at step", "Lower the learning rate "
     "(train.lr=1e+30)")
def _(tmp, base):
    return Call(["train", "--steps", "20", "--out", str(tmp / "diverged"), *TINY,
                 "--set", "train.lr=1e30", "--set", "train.checkpoint_every=1"]), None


@row("sample-unknown-suffix", "unknown suffix .xyz; use .png")
def _(tmp, base):
    return Call(["sample", str(base), "-o", str(tmp / "grid.xyz")]), None


@row("sample-more-than-a-grid", "-n 100000 is more than one grid holds (4096)",
     "ganzoo eval -n N")
def _(tmp, base):
    return Call(["sample", str(base), "-n", "100000", "-o", str(tmp / "grid.png")]), None


@row("sample-interpolate-into-a-png", "--interpolate makes a looped GIF of latent walks; "
     "name a .gif with -o")
def _(tmp, base):
    return Call(["sample", str(base), "--interpolate", "3", "-o", str(tmp / "walk.png")]), None


@row("sample-gif-without-interpolate", "is a GIF: add --interpolate K")
def _(tmp, base):
    return Call(["sample", str(base), "-o", str(tmp / "walk.gif")]), None


@row("sample-truncation-zero", "--truncation must be a number of at least 0.05", "got 0.0")
def _(tmp, base):
    return Call(["sample", str(base), "--truncation", "0", "-o", str(tmp / "t.png")]), None


@row("sample-into-a-folder-of-other-pngs", "already holds PNG files that ganzoo did not write",
     "choose an empty folder")
def _(tmp, base):
    folder = tmp / "photos"
    folder.mkdir()
    Image.new("L", (4, 4)).save(folder / "holiday.png")
    return Call(["sample", str(base), "-n", "5", "-o", str(folder)]), folder


@row("sample-negative-nrow", "--nrow must be at least 1 (images per grid row), got -3")
def _(tmp, base):
    return Call(["sample", str(base), "--nrow", "-3", "-o", str(tmp / "nrow.png")]), None


@row("generate-negative-nrow", "--nrow must be at least 1 (images per grid row), got -3")
def _(tmp, base):
    return Call(["generate", str(_onnx_export(tmp, base)), "--nrow", "-3", "-o",
                 str(tmp / "nrow-onnx.png")]), None


@row("sample-into-proc", "cannot write /proc/grid.png", "does not accept new files",
     "choose another -o")
def _(tmp, base):
    return Call(["sample", str(base), "-o", "/proc/grid.png"]), None


@row("sample-into-a-read-only-folder", "cannot write ", "grid.png", "choose another -o")
def _(tmp, base):
    folder = tmp / "read-only-pictures"
    folder.mkdir()
    (folder / "grid.png").write_bytes(b"an earlier grid\n")
    return Call(["sample", str(base), "-o", str(folder / "grid.png")], read_only=[folder]), folder


# A full disk, for real: each command runs with a file-size limit (RLIMIT_FSIZE), so the write
# that crosses it fails in the kernel (EFBIG) as one on a full disk fails (ENOSPC).
@row("disk-full-during-a-checkpoint", "could not write checkpoint", "step-0000006",
     "File too large", "the earlier checkpoint step-0000004.safetensors is intact",
     "ganzoo train --resume")
def _(tmp, base):
    run = _copy_run(base, tmp, "full-at-checkpoint")
    return Call(["train", "--resume", str(run), "--steps", "6", "-q"],
                file_size_limit=100_000), run / "checkpoints"  # steps 5-6 did log and sample


@row("disk-full-during-a-metrics-line", "writing to ", "File too large",
     "continue with 'ganzoo train --resume")
def _(tmp, base):
    run = _copy_run(base, tmp, "full-at-metrics")
    _set_config(run, lambda c: c["recipe"]["train"].update(log_every=1))
    metrics = run / "metrics.jsonl"
    record = json.loads(metrics.read_text().splitlines()[-1])
    metrics.write_text("".join(json.dumps({**record, "step": s}) + "\n" for s in range(1, 5)))
    return Call(["train", "--resume", str(run), "--steps", "6", "-q"],
                file_size_limit=metrics.stat().st_size + 40), run


@row("disk-full-during-export", "cannot write the exported files in ", "full-export",
     "File too large", "free some space or choose another -o")
def _(tmp, base):
    out = tmp / "full-export"
    out.mkdir()
    (out / "generator.onnx").write_bytes(b"an earlier export\n")
    return Call(["export", str(base), "-o", str(out)], file_size_limit=20_000), out


@row("disk-full-during-sample", "cannot write ", "full-grid.png", "File too large",
     "choose another -o")
def _(tmp, base):
    return Call(["sample", str(base), "-n", "64", "-o", str(tmp / "full-grid.png")],
                file_size_limit=2_000), None


@row("export-run-without-checkpoint", "has no checkpoint yet", "ganzoo train --resume")
def _(tmp, base):
    run = _copy_run(base, tmp, "no-checkpoint")
    shutil.rmtree(run / "checkpoints")
    return Call(["export", str(run), "-o", str(tmp / "no-checkpoint-export")]), run


@row("eval-inception-other-weights", "warning: ", "are not verified as pytorch-fid's",
     "fd-inception-unverified", ok=True)
def _(tmp, base):
    from safetensors.torch import save_file

    from ganzoo.metrics.inception import FIDInceptionV3

    torch.manual_seed(0)
    path = tmp / "other-inception.safetensors"  # the right structure, other (random) weights
    save_file(FIDInceptionV3().state_dict(), str(path))
    np.savez(tmp / "reference.npz", images=np.random.default_rng(0).integers(
        0, 256, (12, 32, 32), dtype=np.uint8))
    return Call(["eval", str(base), "--extractor", "inception", "--inception-weights",
                 str(path), "--data", str(tmp / "reference.npz"), "-n", "6", "--metrics",
                 "fd,kd", "--batch", "6", "--no-log", "--json", "--device", "cpu"]), None


@row("plugin-name-with-a-path", "invalid plugin name '../../evil'")
def _(tmp, base):
    (tmp / "plugins-here").mkdir()
    return Call(["plugins", "new", "../../evil", "--dir", str(tmp / "plugins-here")]), None


@row("debug-shows-the-traceback", "Traceback", "unknown arch 'nosuch'")
def _(tmp, base):
    return Call(["--debug", "train", "--arch", "nosuch"]), None


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """Set up every row, run all command lines, and keep what each check needs."""
    tmp = tmp_path_factory.mktemp("catalogue")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        base = start_run("dcgan", ["generator.ngf=8", "discriminator.ndf=8", "train.batch=16",
                                   "train.steps=4", "train.checkpoint_every=2"], None,
                         tmp / "base", tmp, "cpu", quiet=True, table=get_table())
    finally:
        torch.set_num_threads(threads)
    calls, kept = [], {}
    for name, spec in ROWS.items():
        call, keep = spec["setup"](tmp, base)
        call.env = {**ENV, **call.env}
        calls.append(call)
        kept[name] = (keep, snapshot(keep) if keep is not None and keep.exists() else None)
    results = dict(zip(ROWS, run_cli_batch(calls)))
    return {"tmp": tmp, "base": base, "results": results, "kept": kept}


@pytest.mark.parametrize("name", list(ROWS))
def test_bad_input(name, catalogue):
    spec, proc = ROWS[name], catalogue["results"][name]
    where = f"ganzoo {' '.join(proc.args[1:])}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    if proc.returncode == READ_ONLY_FAILED:
        pytest.skip(f"this machine cannot make a folder read-only: {proc.stderr.strip()}")
    for fragment in spec["fragments"]:
        assert fragment in proc.stderr, f"{fragment!r} missing from\n{where}"
    if spec["ok"]:
        assert proc.returncode == 0, where
    else:
        assert proc.returncode == 2, where
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, where
        if name != "debug-shows-the-traceback":
            assert "Traceback" not in proc.stderr, where
    keep, before = catalogue["kept"][name]
    if before is not None:
        assert snapshot(keep) == before, f"{keep} changed:\n{where}"
    CHECKS.get(name, lambda c: None)(catalogue)


# -- the extra checks of rows that train --------------------------------------------------------


def _check_mixed(c):
    config = json.loads((c["tmp"] / "mixed-run" / "config.json").read_text())
    assert config["data"]["count"] == 8 and config["data"]["channels"] == 3


def _check_truncated(c):
    run = c["tmp"] / "truncated"
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 6
    assert ckpt.list_checkpoints(run)[-1][0] == 6
    for _, path in ckpt.list_checkpoints(run):
        ckpt.read_checkpoint(path)  # the truncated step 4 was rewritten whole


def _check_symlink(c):
    assert (c["tmp"] / "outside.txt").read_text() == "precious\n"


def _check_diverged(c):
    for _, path in ckpt.list_checkpoints(c["tmp"] / "diverged"):
        tensors, _ = ckpt.read_checkpoint(path)
        assert ckpt.first_non_finite(tensors) is None, path


def _check_full_checkpoint(c):
    run = c["tmp"] / "full-at-checkpoint"
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    proc = run_cli("train", "--resume", str(run), "--steps", "6", "-q", env=ENV)  # space again
    assert "Traceback" not in proc.stderr
    assert [s for s, _ in ckpt.list_checkpoints(run)][-1] == 6


def _check_full_metrics(c):
    lines = (c["tmp"] / "full-at-metrics" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4]  # no half line


def _check_full_sample(c):
    assert not list(c["tmp"].glob("*full-grid.png*"))  # neither the grid nor a temporary file


def _check_plugin_name(c):
    assert not list((c["tmp"] / "plugins-here").iterdir())
    assert not list(c["tmp"].parent.glob("*evil*"))


def _check_broken_plugin(c):
    assert ckpt.list_checkpoints(c["tmp"] / "broken-plugin-run")[-1][0] == 1


def _nothing_left(name: str):
    """A run that failed before training leaves no folder: the same --out works again."""
    def check(c):
        assert not (c["tmp"] / name).exists(), sorted((c["tmp"] / name).iterdir())
    return check


def _check_not_loaded(c):
    """The read-only run failed before its data loaded (that path does not exist)."""
    assert "no-such-data" not in c["results"]["resume-read-only-run"].stderr


def _check_no_broken_files(c):
    assert "broken" not in c["results"]["export-run-without-checkpoint"].stderr


def _check_not_lost(c):
    assert (c["tmp"] / "read-only-pictures" / "grid.png").read_bytes() == b"an earlier grid\n"
    assert sorted(p.name for p in (c["tmp"] / "read-only-pictures").iterdir()) == ["grid.png"]


def _check_unverified_inception(c):
    from ganzoo.metrics.inception import weights_sha256

    proc = c["results"]["eval-inception-other-weights"]
    record = json.loads(proc.stdout)
    assert set(record["eval"]) == {"fd-inception-unverified", "kd-inception-unverified",
                                   "kd-inception-unverified-std"}, record["eval"]
    assert not {"fid", "kid", "is"} & set(record["eval"])
    assert record["protocol"]["extractor_sha256"] == weights_sha256(
        c["tmp"] / "other-inception.safetensors")


def _check_diverged_message(c):
    assert "None" not in c["results"]["learning-rate-diverges"].stderr


CHECKS = {"model-width-zero": _nothing_left("width-zero"),
          "dataset-smaller-than-a-batch": _nothing_left("small-run"),
          "resume-read-only-run": _check_not_loaded,
          "export-run-without-checkpoint": _check_no_broken_files,
          "sample-into-a-read-only-folder": _check_not_lost,
          "eval-inception-other-weights": _check_unverified_inception,
          "model-size-huge": _nothing_left("size-huge"),
          "plugin-model-cannot-be-built": _nothing_left("boom-run"),
          "plugin-model-raises-in-training": _nothing_left("crash-run"),
          "mixed-image-folder": _check_mixed, "truncated-newest-checkpoint": _check_truncated,
          "metrics-file-is-a-symlink": _check_symlink,
          "learning-rate-diverges": lambda c: (_check_diverged(c), _check_diverged_message(c)),
          "broken-plugin": _check_broken_plugin, "plugin-name-with-a-path": _check_plugin_name,
          "disk-full-during-a-checkpoint": _check_full_checkpoint,
          "disk-full-during-a-metrics-line": _check_full_metrics,
          "disk-full-during-sample": _check_full_sample}


def test_the_catalogue_in_the_docs_names_real_tests():
    """docs/bad-inputs.md and the tests stay in step: every row the tests run is documented,
    and every test the page names exists."""
    import importlib

    text = (Path(__file__).resolve().parent.parent / "docs" / "bad-inputs.md").read_text()
    documented_rows = set(re.findall(r"test_bad_input\[([a-z0-9-]+)\]", text))
    assert documented_rows == set(ROWS)
    named = re.findall(r"tests/(test_\w+)\.py::(test_\w+)", text)
    assert len(named) >= 10
    for module, function in named:
        assert callable(getattr(importlib.import_module(f"tests.{module}"), function, None)), (
            f"docs/bad-inputs.md names tests/{module}.py::{function}, which does not exist")


# -- failures while starting a run ---------------------------------------------------------------

SMALL = ["generator.ngf=8", "discriminator.ndf=8", "train.batch=16"]


def test_a_run_that_fails_to_start_takes_back_only_what_it_wrote(tmp_path, one_thread):
    """A model that cannot be built fails after config.json was written: a run folder the
    command created is removed, a folder that was there keeps its own files, and the same
    --out then trains."""
    import types

    import ganzoo
    from ganzoo import host
    from ganzoo.errors import GanzooError
    from ganzoo.zoo.dcgan import DCGANDiscriminator, DCGANGenerator

    class Boom(DCGANGenerator):
        def __init__(self, config):
            raise MemoryError("no room for that")

    def register_architectures(register):
        register("boom", generator=Boom, discriminator=DCGANDiscriminator)

    plugin = types.SimpleNamespace(register_architectures=ganzoo.hookimpl(register_architectures))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep\n")
    host.register_plugin(plugin, "boomer")
    try:
        for out in (tmp_path / "new" / "run", mine):
            with pytest.raises(GanzooError, match=r"cannot build the generator of architecture "
                                                  r"'boomer:boom' from the config nz=100, .*ngf=8"
                                                  r".*MemoryError: no room for that"):
                start_run("boom", SMALL, None, out, tmp_path, "cpu", quiet=True, table=get_table())
    finally:
        host.unregister_plugin(plugin, "boomer")
    assert not (tmp_path / "new" / "run").exists()
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    run = start_run("dcgan", [*SMALL, "train.steps=1"], None, mine, tmp_path, "cpu", quiet=True,
                    table=get_table())
    assert [s for s, _ in ckpt.list_checkpoints(run)] == [1]
    assert (mine / "notes.txt").read_text() == "keep\n"


def test_an_exception_in_ganzoo_itself_keeps_its_traceback(monkeypatch):
    """Only a plugin's code failing is shortened to one line: a bug in ganzoo propagates
    (the interpreter prints its traceback and exits 1)."""
    from ganzoo import cli

    monkeypatch.setattr("ganzoo.train.launch.load_data", None)  # a bug inside start_run
    with pytest.raises(TypeError, match="'NoneType' object is not callable"):
        cli.main(["train", "--steps", "1", "-q"])
