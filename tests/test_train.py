"""The training core end to end: real CLI runs, checkpoints, samples, resume."""

from __future__ import annotations

import json

import torch
from PIL import Image
from safetensors import safe_open

from ganzoo import resolve_recipe
from ganzoo.data import load_data
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.train.loop import train
from tests.conftest import TINY, read_metrics, run_cli


def test_cli_train_writes_a_run_then_samples(tmp_path):
    run = tmp_path / "run"
    proc = run_cli("train", "--arch", "dcgan", "--steps", "24", "--out", str(run), *TINY,
                   "--set", "train.sample_every=12", "--set", "train.checkpoint_every=12",
                   "--set", "train.log_every=4")
    assert "training dcgan" in proc.stderr and "step 24/24" in proc.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"]["generator"] == {"arch": "ganzoo:dcgan", "nz": 100, "ngf": 8}
    assert config["data"]["count"] == 10000 and config["versions"]["torch"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step-0000012.png", "step-0000024.png"]
    grid = Image.open(run / "samples" / "step-0000024.png")
    assert grid.size == (8 * 34 + 2, 8 * 34 + 2)
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts == ["step-0000012.safetensors", "step-0000024.safetensors"]
    with safe_open(str(run / "checkpoints" / ckpts[-1]), "pt") as f:
        keys = set(f.keys())
        assert f.metadata()["step"] == "24"
    assert {"rng.torch", "rng.z"} <= keys
    assert any(k.startswith("G_ema.") for k in keys) and any(k.startswith("opt_d.") for k in keys)
    metrics = read_metrics(run)
    assert [m["step"] for m in metrics] == [4, 8, 12, 16, 20, 24]
    assert all(m["img_per_s"] > 0 for m in metrics)

    out = tmp_path / "grid.png"
    proc = run_cli("sample", str(run), "-n", "9", "-o", str(out))
    assert "step 24" in proc.stdout
    assert Image.open(out).size == (3 * 34 + 2, 3 * 34 + 2)


def test_resume_matches_an_uninterrupted_run(tmp_path):
    overrides = ["generator.ngf=8", "discriminator.ndf=8", "train.batch=16", "train.log_every=1",
                 "train.checkpoint_every=5", "train.sample_every=1000", "train.seed=7"]
    recipe = resolve_recipe("dcgan", overrides)
    data = load_data("fashion-mnist", recipe.train.resolution, table=get_table())
    recipe = with_data_shape(recipe, data.channels, data.num_classes)
    device = torch.device("cpu")

    whole = train(recipe, data, tmp_path / "whole", device, steps=10, show_progress=False,
                  table=get_table())
    train(recipe, data, tmp_path / "split", device, steps=5, show_progress=False, table=get_table())
    resumed = train(recipe, data, tmp_path / "split", device, steps=10, resume=True,
                    show_progress=False, table=get_table())

    a, b = read_metrics(tmp_path / "whole"), read_metrics(tmp_path / "split")
    assert [m["step"] for m in b] == list(range(1, 11))
    assert [(m["d_loss"], m["g_loss"]) for m in a] == [(m["d_loss"], m["g_loss"]) for m in b]
    for p, q in zip(whole.G_ema.parameters(), resumed.G_ema.parameters()):
        assert torch.equal(p, q)


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path):
    proc = run_cli("train", "--arch", "nosuch", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown arch 'nosuch'")
    assert "dcgan-64" in proc.stderr and "Traceback" not in proc.stderr

    proc = run_cli("train", "--set", "train.lr=abc", check=False)
    assert proc.returncode == 2 and "train.lr must be a number" in proc.stderr

    proc = run_cli("train", "--data", str(tmp_path), check=False)
    assert proc.returncode == 2 and "no images found under" in proc.stderr

    proc = run_cli("--debug", "train", "--arch", "nosuch", check=False)
    assert proc.returncode == 2 and "Traceback" in proc.stderr

    proc = run_cli("sample", str(tmp_path), check=False)
    assert proc.returncode == 2 and "is not a ganzoo run" in proc.stderr


def test_resume_rejects_a_different_arch(tmp_path):
    run = tmp_path / "run"
    run_cli("train", "--steps", "2", "--out", str(run), *TINY, "-q")
    proc = run_cli("train", "--resume", str(run), "--arch", "dcgan-64", check=False)
    assert proc.returncode == 2 and "trains 'dcgan', not 'dcgan-64'" in proc.stderr
    proc = run_cli("train", "--steps", "2", "--out", str(run), *TINY, check=False)
    assert proc.returncode == 2 and "already holds a run" in proc.stderr
