"""Samples as files for other tools: truncation, a folder of PNGs (resumable), an .npz, and
walks through latents or classes as GIF or MP4, from ``ganzoo sample`` (torch) and ``ganzoo
generate`` / the runtime (onnxruntime), all real subprocesses and real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo import runtime
from ganzoo.errors import GanzooError
from ganzoo.export import export_generator
from ganzoo.host import get_table
from ganzoo.images import make_grid, to_uint8
from ganzoo.latents import class_walk, sample_latents, slerp, walk_latents
from ganzoo.loading import load_generator
from ganzoo.video import MP4, encode_walk
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
        assert json.loads(gif.info["comment"])["walk"] == {"through": "latents", "keys": 3,
                                                           "frames": 5, "fps": 16.0}
        assert gif.info["loop"] == 0
        first = np.asarray(gif.convert("RGB")).astype(int)
        assert np.abs(first - grid).mean() < 8  # frame 0 is the grid (GIF has 256 colours)
    gen = runtime.Generator(models["onnx"])
    frames = gen.walk(4, keys=3, frames=5, seed=2)
    assert frames.shape == (15, 4, 3, 16, 16)
    np.testing.assert_allclose(frames[0], gen.generate(4, seed=2), atol=1e-5)
    assert np.abs(frames[1] - frames[0]).max() > 0


def test_class_walk_keeps_each_latent_and_blends_classes(models, tmp_path):
    """Cell i keeps latent i and walks from class i % 4 through the next ones; key frames are
    the images of those classes, frames between them blend the class embeddings."""
    weights = class_walk(2, keys=3, frames=4, num_classes=4, class_index=None)
    assert weights.shape == (12, 2, 4)
    assert weights[::4].argmax(-1).tolist() == [[0, 1], [1, 2], [2, 3]]
    np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-6)
    np.testing.assert_allclose(weights[2, 0], [0.5, 0.5, 0, 0])  # halfway from 0 to 1
    out = tmp_path / "classes.gif"
    proc = run_cli("sample", str(models["cond"]), "-n", "4", "--interpolate", "4", "--frames",
                   "3", "--class-walk", "--precision", "fp32", "-o", str(out))
    assert "12 frames of 4 walks through 4 classes" in proc.stdout
    gif = Image.open(out)
    record = json.loads(gif.info["comment"])
    assert record["walk"] == {"through": "classes", "keys": 4, "frames": 3, "fps": 16.0}
    assert record["classes"] == "walk i goes from class i % 4 through the next classes in turn"
    G, _ = load_generator(models["cond"], table=get_table())
    z = torch.from_numpy(sample_latents(4, G.config.nz, 0))
    with torch.no_grad():
        keys = [to_uint8(G(z, (torch.arange(4) + s) % 4).numpy()) for s in range(4)]
    frames = []
    for index in range(gif.n_frames):
        gif.seek(index)
        frames.append(np.asarray(gif.convert("RGB")).astype(int))
    for s, images in enumerate(keys):  # GIF has 256 colours: close, not equal
        assert np.abs(frames[3 * s] - make_grid(images)).mean() < 8, s
    between = np.abs(frames[1] - frames[0]).mean()
    assert 0 < between < np.abs(frames[3] - frames[0]).mean()


def test_class_walk_errors_name_the_fix(models, tmp_path):
    proc = run_cli("sample", str(models["dcgan"]), "--interpolate", "3", "--class-walk", "-o",
                   str(tmp_path / "w.gif"), check=False)
    assert proc.returncode == 2 and "this generator is unconditional: drop --class-walk" in (
        proc.stderr)
    proc = run_cli("sample", str(models["cond"]), "--interpolate", "5", "--class-walk", "-o",
                   str(tmp_path / "w.gif"), check=False)
    assert "but this generator has 4: use --interpolate 2 to 4" in proc.stderr
    proc = run_cli("generate", str(models["onnx"]), "--interpolate", "3", "--class-walk", "-o",
                   str(tmp_path / "w.gif"), check=False)
    beside = models["onnx"].with_name("generator.safetensors")
    assert proc.returncode == 2 and "exported graph takes integer labels only" in proc.stderr
    assert f"'ganzoo sample {beside} --interpolate K --class-walk" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


def test_walk_mp4_from_torch_and_onnxruntime(models, tmp_path):
    """An H.264 MP4 read back with PyAV: every frame, scaled up to a watchable size, frame 0
    the grid; an odd-sized grid is padded to the even size 4:2:0 colour needs."""
    import av

    walk = ["-n", "4", "--interpolate", "3", "--frames", "5", "--seed", "2", "--fps", "12.5"]
    run_cli("generate", str(models["onnx"]), *walk, "-o", str(tmp_path / "ort.mp4"))
    proc = run_cli("sample", str(models["dcgan"]), *walk, "--precision", "fp32", "-o",
                   str(tmp_path / "torch.mp4"))
    assert "wrote" in proc.stdout and "15 frames of 4 walks through 3 latents" in proc.stdout
    run_cli("generate", str(models["onnx"]), "-n", "4", "--seed", "2", "-o",
            str(tmp_path / "grid.png"))
    grid = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB")).astype(int)
    for name in ("ort.mp4", "torch.mp4"):
        with av.open(str(tmp_path / name)) as video:
            stream = video.streams.video[0]
            record = json.loads(video.metadata["comment"])
            scale = record["scale"]
            assert stream.codec_context.name == "h264" and stream.average_rate == 12.5
            assert (stream.width, stream.height) == (38 * scale, 38 * scale) and 38 * scale >= 512
            assert record["walk"] == {"through": "latents", "keys": 3, "frames": 5, "fps": 12.5}
            frames = [f.to_ndarray(format="rgb24") for f in video.decode(video=0)]
        assert len(frames) == 15
        middle = frames[0][scale // 2::scale, scale // 2::scale].astype(int)
        assert np.abs(middle - grid).mean() < 4, name
        assert np.abs(frames[1].astype(int) - frames[0]).mean() > 0
    odd = [np.full((7, 5, 1), 40 * i, np.uint8) for i in range(3)]
    data, count = encode_walk(MP4, odd, 10.0, {"what": "odd"})
    (tmp_path / "odd.mp4").write_bytes(data)
    with av.open(str(tmp_path / "odd.mp4")) as video:
        pictures = [f.to_ndarray(format="rgb24") for f in video.decode(video=0)]
    assert count == len(pictures) == 3 and pictures[0].shape == (7 * 103 + 1, 5 * 103 + 1, 3)
    assert abs(int(pictures[2][5, 5, 0]) - 80) <= 3 and pictures[2][-1, -1].max() <= 20


def test_mp4_without_pyav_is_one_error_before_any_model_loads(tmp_path):
    """Without the package (one that fails to import, first on the path) the command stops
    at once naming the extra, even before it looks for the model."""
    fake = tmp_path / "site" / "av"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named av')\n")
    env = {"PYTHONPATH": str(tmp_path / "site")}
    for command in ("sample", "generate"):
        proc = run_cli(command, str(tmp_path / "no-such-model"), "--interpolate", "2", "-o",
                       str(tmp_path / "walk.mp4"), env=env, check=False)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: writing an .mp4 needs PyAV: pip install "
                                      "'ganzoo[video]'"), proc.stderr
        assert not (tmp_path / "walk.mp4").exists()


def test_help_pages_read_well():
    """Flags take no value, so no ``<bool>`` beside them; arguments carry their names."""
    for command in ([], ["train"], ["sample"], ["generate"], ["report"], ["export"]):
        text = run_cli(*command, "--help", env={"COLUMNS": "100"}).stdout
        assert "<bool>" not in text, command
    sample = run_cli("sample", "--help", env={"COLUMNS": "100"}).stdout
    assert "RUN" in sample and "--truncation" in sample and "PSI" in sample
    assert "--interpolate" in sample and " K " in sample
    assert "--class-walk" in sample and ".mp4" in sample
    assert "--class-walk" not in run_cli("generate", "--help", env={"COLUMNS": "100"}).stdout
