"""Samples as files for other tools: truncation, a folder of PNGs (resumable), an .npz, and
latent walk GIFs, from ``ganzoo sample`` (torch) and ``ganzoo generate`` / the runtime
(onnxruntime), all real subprocesses and real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from ganzoo import runtime
from ganzoo.errors import GanzooError
from ganzoo.export import export_generator
from ganzoo.host import get_table
from ganzoo.images import make_grid
from ganzoo.latents import sample_latents, slerp, walk_latents
from tests.conftest import run_cli
from tests.test_export import write_generator


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A small unconditional and a conditional generator file, and the first one's export."""
    root = tmp_path_factory.mktemp("sample-outputs")
    write_generator(root / "dcgan" / "generator.safetensors", "dcgan")
    write_generator(root / "cond" / "generator.safetensors", "dcgan-cond", num_classes=4)
    onnx = export_generator(root / "dcgan" / "generator.safetensors", table=get_table(),
                            exporters=("torchscript",)).onnx_path
    return {"dcgan": root / "dcgan" / "generator.safetensors",
            "cond": root / "cond" / "generator.safetensors", "onnx": onnx}


def pngs(folder):
    return sorted(p.name for p in folder.glob("*.png"))


def decoded(folder, n):
    return np.stack([np.asarray(Image.open(folder / f"{i:06d}.png")) for i in range(n)])


# -- latents ---------------------------------------------------------------------------------


def test_truncation_bounds_every_element_and_keeps_the_rest():
    plain = sample_latents(300, 32, seed=5)
    for psi in (0.5, 1.0, 2.0):
        cut = sample_latents(300, 32, seed=5, truncation=psi)
        assert np.abs(cut).max() <= psi
        inside = np.abs(plain) <= psi
        assert np.array_equal(cut[inside], plain[inside])  # only the far elements move
        assert not np.array_equal(cut[~inside], plain[~inside])
        # element k depends on k and the seed only: a prefix of a bigger request is the same
        assert np.array_equal(sample_latents(7, 32, seed=5, truncation=psi), cut[:7])
    with pytest.raises(GanzooError, match="--truncation must be a number of at least 0.05"):
        sample_latents(4, 8, truncation=0.0)


def test_slerp_walks_on_the_sphere_and_loops():
    a, b = sample_latents(2, 512, seed=1)
    mid = slerp(a[None], b[None], 0.5)[0]
    norm = (np.linalg.norm(a) + np.linalg.norm(b)) / 2
    assert abs(np.linalg.norm(mid) / norm - 1) < 0.05
    assert np.linalg.norm((a + b) / 2) < 0.8 * norm  # a straight line sags towards 0
    walk = walk_latents(3, keys=4, frames=5, nz=16, seed=2)
    assert walk.shape == (20, 3, 16)
    keys = sample_latents(12, 16, seed=2).reshape(4, 3, 16)
    np.testing.assert_allclose(walk[::5], keys, atol=1e-6)  # every 5th frame is a key latent


def test_truncation_shrinks_image_variance_monotonically(models):
    gen = runtime.Generator(models["onnx"])
    spread = [float(gen.generate(400, seed=3, truncation=psi).std(axis=0).mean())
              for psi in (0.25, 0.5, 1.0, 2.0)]
    spread.append(float(gen.generate(400, seed=3).std(axis=0).mean()))
    assert spread == sorted(spread) and len(set(spread)) == len(spread), spread


# -- ganzoo sample / generate outputs --------------------------------------------------------


def test_npz_folder_and_grid_hold_the_same_images(models, tmp_path):
    common = ["-n", "40", "--seed", "4", "--precision", "fp32", "--truncation", "1.5"]
    run_cli("sample", str(models["dcgan"]), *common, "-o", str(tmp_path / "s.npz"))
    run_cli("sample", str(models["dcgan"]), *common, "-o", str(tmp_path / "pngs"))
    run_cli("sample", str(models["dcgan"]), *common, "-o", str(tmp_path / "grid.png"),
            "--nrow", "8")
    with np.load(tmp_path / "s.npz") as npz:  # no pickle needed: plain arrays and a string
        images, info = npz["images"], json.loads(str(npz["info"]))
        assert "labels" not in npz
    assert images.shape == (40, 16, 16, 3) and images.dtype == np.uint8
    assert info["seed"] == 4 and info["truncation"] == 1.5 and info["step"] == 7
    assert pngs(tmp_path / "pngs") == [f"{i:06d}.png" for i in range(40)]
    assert np.array_equal(decoded(tmp_path / "pngs", 40), images)
    grid = Image.open(tmp_path / "grid.png")
    assert json.loads(grid.text["ganzoo"])["truncation"] == 1.5
    assert np.array_equal(np.asarray(grid), make_grid(images, 8))


def test_conditional_npz_has_labels_and_a_class_draws_one(models, tmp_path):
    run_cli("sample", str(models["cond"]), "-n", "10", "-o", str(tmp_path / "c.npz"))
    with np.load(tmp_path / "c.npz") as npz:
        assert npz["labels"].tolist() == [i % 4 for i in range(10)]
    run_cli("sample", str(models["cond"]), "-n", "6", "--class", "2", "-o", str(tmp_path / "k"))
    assert json.loads((tmp_path / "k" / "ganzoo-samples.json").read_text())["classes"] == "all 2"


def test_folder_resumes_after_lost_and_torn_files(models, tmp_path):
    out = tmp_path / "fid"
    args = ["sample", str(models["dcgan"]), "-n", "300", "-o", str(out), "--precision", "fp32"]
    run_cli(*args)
    whole = decoded(out, 300)
    kept = out / "000100.png"
    before = kept.stat().st_mtime_ns
    for i in (0, 150, 299):
        (out / f"{i:06d}.png").unlink()
    (out / "000200.png").write_bytes((out / "000200.png").read_bytes()[:40])  # torn
    (out / ".000201.png.tmp-99999").write_bytes(b"left by a killed writer")
    proc = run_cli(*args)
    assert "(4 images, 296 already there" in proc.stdout
    assert pngs(out) == [f"{i:06d}.png" for i in range(300)] and len(os.listdir(out)) == 301
    assert np.array_equal(decoded(out, 300), whole)
    assert kept.stat().st_mtime_ns == before  # what was there is not rewritten
    assert "(0 images, 300 already there" in run_cli(*args).stdout


def test_folder_interrupted_by_ctrl_c_then_finished(models, tmp_path):
    """A real SIGINT in the middle of a folder of 3,000, then the same command finishes it."""
    out = tmp_path / "many"
    command = [sys.executable, "-m", "ganzoo", "sample", str(models["dcgan"]), "-n", "3000",
               "-o", str(out), "--precision", "fp32"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    deadline = time.monotonic() + 120
    while not (out / "000000.png").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    written = len(pngs(out))
    if proc.returncode == 130:  # interrupted (a very fast machine may have finished first)
        assert f"holds {written} of 3000 images; run the same command again" in err
        assert 0 < written < 3000
    else:
        assert proc.returncode == 0, err
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert pngs(out) == [f"{i:06d}.png" for i in range(3000)]
    assert all(Image.open(out / name).size == (16, 16) for name in pngs(out)[::97])


def test_folder_refuses_another_request(models, tmp_path):
    out = tmp_path / "one"
    run_cli("sample", str(models["dcgan"]), "-n", "5", "-o", str(out))
    proc = run_cli("sample", str(models["dcgan"]), "-n", "5", "-o", str(out), "--seed", "1",
                   check=False)
    assert proc.returncode == 2
    assert "holds samples of another request (seed differ: seed 0)" in proc.stderr
    assert len(pngs(out)) == 5


def test_walk_gif_from_torch_and_onnxruntime(models, tmp_path):
    walk = ["-n", "4", "--interpolate", "3", "--frames", "5", "--seed", "2"]
    run_cli("generate", str(models["onnx"]), *walk, "-o", str(tmp_path / "ort.gif"))
    run_cli("sample", str(models["dcgan"]), *walk, "--precision", "fp32", "-o",
            str(tmp_path / "torch.gif"))
    run_cli("generate", str(models["onnx"]), "-n", "4", "--seed", "2", "-o",
            str(tmp_path / "grid.png"))
    grid = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB"))
    for name in ("ort.gif", "torch.gif"):
        gif = Image.open(tmp_path / name)
        assert gif.n_frames == 15 and gif.size == (grid.shape[1], grid.shape[0])
        assert json.loads(gif.info["comment"])["walk"] == {"keys": 3, "frames": 5, "fps": 16.0}
        assert gif.info["loop"] == 0
        first = np.asarray(gif.convert("RGB")).astype(int)
        assert np.abs(first - grid).mean() < 8  # frame 0 is the grid (GIF has 256 colours)
    gen = runtime.Generator(models["onnx"])
    frames = gen.walk(4, keys=3, frames=5, seed=2)
    assert frames.shape == (15, 4, 3, 16, 16)
    np.testing.assert_allclose(frames[0], gen.generate(4, seed=2), atol=1e-5)
    assert np.abs(frames[1] - frames[0]).max() > 0


def test_help_pages_read_well():
    """Flags take no value, so no ``<bool>`` beside them; arguments carry their names."""
    for command in ([], ["train"], ["sample"], ["generate"], ["report"], ["export"]):
        text = run_cli(*command, "--help", env={"COLUMNS": "100"}).stdout
        assert "<bool>" not in text, command
    sample = run_cli("sample", "--help", env={"COLUMNS": "100"}).stdout
    assert "RUN" in sample and "--truncation" in sample and "PSI" in sample
    assert "--interpolate" in sample and " K " in sample
