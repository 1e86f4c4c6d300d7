"""Every architecture pairing in the catalog walks the trainer's whole journey through the real
CLI, on a user's image folder: train, resume, sample (one class when conditional), export with
onnxruntime's parity check, and generate from the ONNX file, which must draw what sample drew."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from ganzoo import host, resolve_recipe
from tests.conftest import read_metrics
from tests.helpers.cli_batch import Call, run_cli_batch

# Tiny widths and batches; progan's stages are a few images long, so this short run still
# grows 8x8 -> 16x16 and fades in.
TINY = ["train.batch=8", "train.n_critic=1", "train.log_every=1", "train.sample_every=1000",
        "train.checkpoint_every=1000"]
# the width settings, by the config field an architecture has
WIDTHS = {"ngf": "8", "ndf": "8", "widths": "[16,16,16,16]", "group_channels": "8"}
PROGAN = ["train.resolution=16", "generator.nz=32", "generator.stage_images=8",
          "generator.fade_images=16"]


def _walks() -> list[str]:
    """One recipe for each distinct (generator, discriminator, conditional) of the catalog."""
    seen: dict[tuple, str] = {}
    for component in host.get_table().components("recipe"):
        recipe = resolve_recipe(component.full_name)
        key = (recipe.generator_arch, recipe.discriminator_arch, recipe.train.conditional)
        seen.setdefault(key, component.full_name)
    host.reset()
    return sorted(seen.values())


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """An RGB image folder, one subfolder per class, images not square and not 32 px."""
    root = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    for name, level in (("dark", 60), ("light", 190)):
        (root / name).mkdir()
        for i in range(12):
            pixels = np.clip(level + rng.normal(0, 25, (44, 38, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("recipe", _walks())
def test_recipe_trains_on_a_folder_resumes_samples_exports_and_generates(recipe, pictures,
                                                                        tmp_path):
    resolved = resolve_recipe(recipe)
    grows = resolved.generator_arch == "ganzoo:progan"
    widths = [f"{side}.{key}={value}" for side in ("generator", "discriminator")
              for key, value in WIDTHS.items() if hasattr(getattr(resolved, side), key)]
    overrides = TINY + widths + (PROGAN if grows else [])
    one_class = ["--class", "1"] if resolved.train.conditional else []
    run, sampled, generated = tmp_path / "run", tmp_path / "sample.png", tmp_path / "gen.png"
    sets = [arg for o in overrides for arg in ("--set", o)]
    calls = [
        Call(["train", "--arch", recipe, "--data", str(pictures), "--steps", "3",
              "--out", str(run), "-q", *sets]),
        Call(["train", "--resume", str(run), "--steps", "5", "-q"]),
        Call(["sample", str(run), "-n", "6", "--seed", "2", "-o", str(sampled),
              "--precision", "fp32", *one_class]),
        Call(["export", str(run)]),
        Call(["generate", str(run / "export" / "generator.onnx"), "-n", "6", "--seed", "2",
              "-o", str(generated), *one_class]),
    ]
    for call, proc in zip(calls, run_cli_batch(calls)):
        assert proc.returncode == 0, f"ganzoo {' '.join(call.args)}\n{proc.stderr[-3000:]}"

    config = json.loads((run / "config.json").read_text())
    assert config["data"]["channels"] == 3 and config["data"]["class_names"] == ["dark", "light"]
    metrics = read_metrics(run)
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5]  # the resume went on at step 4
    assert all(math.isfinite(m["d_loss"]) and math.isfinite(m["g_loss"]) for m in metrics)
    if grows:
        assert metrics[0]["progress"]["resolution"] == 8
        assert metrics[-1]["progress"]["resolution"] == 16

    resolution = config["recipe"]["train"]["resolution"]
    side = 2 + 3 * (resolution + 2)  # 6 images: a 3x2 grid with 2 px borders
    drawn = {p: np.asarray(Image.open(p)).astype(int) for p in (sampled, generated)}
    assert drawn[sampled].shape[:2] == (2 + 2 * (resolution + 2), side)
    assert drawn[sampled].std() > 0.5
    assert np.abs(drawn[generated] - drawn[sampled]).max() <= 1
