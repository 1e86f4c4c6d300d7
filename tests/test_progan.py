"""Progressive growing: the schedule, fade-in blending, resume in the middle of a fade-in, and
growing to 128x128 on an image folder through the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ganzoo
from ganzoo import create_generator, host, resolve_recipe
from ganzoo.data import load_data
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.store.checkpoint import module_from_tensors, read_checkpoint
from ganzoo.train.loop import train
from ganzoo.zoo.progan import (
    ProGANDiscriminator,
    ProGANDiscriminatorConfig,
    ProGANGenerator,
    ProGANGeneratorConfig,
    progress_at,
)
from tests.conftest import read_metrics, run_cli


def test_schedule_stages_and_fades():
    def at(images):
        return progress_at(images, start=4, final=32, stage_images=10, fade_images=20)

    assert at(0) == (4, 1.0) and at(9) == (4, 1.0)
    assert at(10) == (8, 0.0) and at(20) == (8, 0.5) and at(29) == (8, 0.95)
    assert at(30) == (8, 1.0) and at(39) == (8, 1.0)
    assert at(40) == (16, 0.0) and at(75) == (32, 0.25)
    assert at(100) == (32, 1.0) and at(10**9) == (32, 1.0)
    assert progress_at(5, 8, 32, 0, 0) == (32, 1.0)  # no stages: straight to the end


def _models(resolution=32):
    torch.manual_seed(0)
    g = ProGANGenerator(ProGANGeneratorConfig(nz=16, ngf=8, resolution=resolution, channels=1))
    d = ProGANDiscriminator(ProGANDiscriminatorConfig(ndf=8, resolution=resolution, channels=1))
    return g, d


def _at(model, resolution, alpha):
    model.set_progress({"resolution": resolution, "alpha": alpha})
    return model


@pytest.mark.parametrize("resolution", [8, 16, 32])
def test_generator_fade_in_blends_the_upsampled_old_path_into_the_new(resolution):
    g, _ = _models()
    z = torch.randn(3, 16)
    old = _at(g, resolution // 2, 1.0)(z)
    faded_out = _at(g, resolution, 0.0)(z)
    new = _at(g, resolution, 1.0)(z)
    assert torch.allclose(faded_out, old, atol=1e-6)
    assert torch.allclose(_at(g, resolution, 0.25)(z), torch.lerp(old, new, 0.25), atol=1e-6)
    # the old path is nearest-upsampled: constant over each block of the old resolution
    block = 32 // (resolution // 2)
    assert torch.equal(old, F.interpolate(old[..., ::block, ::block], scale_factor=block))
    assert not torch.allclose(new, old, atol=1e-3)
    stage = g.ladder.index(resolution)
    with torch.no_grad():  # alpha 1: the previous to-RGB no longer takes part
        g.to_rgb[stage - 1].weight.add_(1.0)
    assert torch.equal(_at(g, resolution, 1.0)(z), new)
    assert not torch.allclose(_at(g, resolution, 0.5)(z), torch.lerp(old, new, 0.5))


@pytest.mark.parametrize("resolution", [8, 16, 32])
def test_discriminator_fade_in(resolution):
    _, d = _models()
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    assert torch.allclose(_at(d, resolution, 0.0)(x), _at(d, resolution // 2, 1.0)(x),
                          atol=1e-5)
    new = _at(d, resolution, 1.0)(x)
    stage = d.ladder.index(resolution)
    with torch.no_grad():
        d.from_rgb[stage - 1].weight.add_(1.0)
    assert torch.equal(_at(d, resolution, 1.0)(x), new)


def test_a_fresh_model_is_the_final_stage_and_its_state_travels_in_the_state_dict():
    g, d = _models(resolution=16)
    assert g.progress() == {"resolution": 16, "alpha": 1.0} == d.progress()
    g.eval()
    z = torch.randn(2, 16)
    full = g(z)
    assert full.shape == (2, 1, 16, 16) and full.abs().max() <= 1
    _at(g, 8, 0.5)
    state = g.state_dict()
    fresh, _ = _models(resolution=16)
    fresh.load_state_dict(state)
    assert fresh.progress() == {"resolution": 8, "alpha": 0.5}
    with pytest.raises(ValueError, match="bad growth state"):
        _at(g, 64, 1.0)


def _critic_plugin():
    """WGAN with a gradient penalty, registered in-process: exercises double backward through
    D without depending on the loss plugins of another branch."""

    def gp(D, real, fake, labels):
        eps = torch.rand(real.shape[0], 1, 1, 1)
        mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(mix, labels).sum(), mix, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    class Plugin:
        @ganzoo.hookimpl
        def register_losses(self, register):
            register("test-critic", d_loss=lambda r, f: f.mean() - r.mean(),
                     g_loss=lambda f, r: -f.mean())

        @ganzoo.hookimpl
        def register_regularizers(self, register):
            register("test-gp", fn=gp, weight=10.0)

    return Plugin()


def test_resume_in_the_middle_of_a_fade_in_matches_an_uninterrupted_run(tmp_path):
    plugin = _critic_plugin()
    host.register_plugin(plugin, "critic")
    try:
        overrides = ["generator.ngf=8", "discriminator.ndf=8", "generator.nz=16",
                     "generator.start_resolution=4",
                     "train.resolution=16", "train.batch=8", "generator.stage_images=16",
                     "generator.fade_images=32", "loss=test-critic", "regularizers=[test-gp]",
                     "train.log_every=1", "train.checkpoint_every=5",
                     "train.sample_every=1000", "train.seed=3"]
        recipe = resolve_recipe("progan", overrides)
        data = load_data("fashion-mnist", 16, table=get_table())
        recipe = with_data_shape(recipe, data.channels, data.num_classes)
        cpu = torch.device("cpu")
        whole = train(recipe, data, tmp_path / "whole", cpu, steps=10, show_progress=False,
                      table=get_table())
        first = train(recipe, data, tmp_path / "split", cpu, steps=5, show_progress=False,
                      table=get_table())
        assert first.G_ema.progress() == {"resolution": 8, "alpha": 0.5}  # mid-fade
        resumed = train(recipe, data, tmp_path / "split", cpu, steps=10, resume=True,
                        show_progress=False, table=get_table())
    finally:
        host.unregister_plugin(plugin, "critic")

    a, b = read_metrics(tmp_path / "whole"), read_metrics(tmp_path / "split")
    assert [m["progress"] for m in a] == [
        {"resolution": 4, "alpha": 1.0}, {"resolution": 4, "alpha": 1.0},
        {"resolution": 8, "alpha": 0.0}, {"resolution": 8, "alpha": 0.25},
        {"resolution": 8, "alpha": 0.5}, {"resolution": 8, "alpha": 0.75},
        {"resolution": 8, "alpha": 1.0}, {"resolution": 8, "alpha": 1.0},
        {"resolution": 16, "alpha": 0.0}, {"resolution": 16, "alpha": 0.25}]
    assert [m["progress"] for m in b] == [m["progress"] for m in a]
    assert [(m["d_loss"], m["g_loss"]) for m in a] == [(m["d_loss"], m["g_loss"]) for m in b]
    assert all(np.isfinite([m["d_loss"], m["g_loss"]]).all() for m in a)
    for p, q in zip(whole.G_ema.parameters(), resumed.G_ema.parameters()):
        assert torch.equal(p, q)
    assert resumed.D.progress() == {"resolution": 16, "alpha": 0.25}

    tensors, meta = read_checkpoint(tmp_path / "split" / "checkpoints" /
                                    "step-0000005.safetensors")
    G = create_generator(recipe.generator_arch, recipe.generator)
    assert G.progress() == {"resolution": 16, "alpha": 1.0}
    module_from_tensors("G_ema", G, tensors, "step 5")
    assert meta["step"] == "5" and G.progress() == {"resolution": 8, "alpha": 0.5}


def test_progan_grows_to_128_on_an_image_folder(tmp_path):
    pics = tmp_path / "pics"
    pics.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (150, 140, 3), dtype=np.uint8)).save(
            pics / f"{i}.png")
    run = tmp_path / "run"
    run_cli("train", "--arch", "progan", "--data", str(pics), "--steps", "3", "--out", str(run),
            "-q", "--set", "train.resolution=128", "--set", "loss=bce-ns",
            "--set", "regularizers=[]", "--set", "train.batch=2", "--set", "generator.ngf=4",
            "--set", "discriminator.ndf=4", "--set", "generator.start_resolution=32",
            "--set", "generator.stage_images=0", "--set", "generator.fade_images=2",
            "--set", "train.log_every=1")
    assert [m["progress"] for m in read_metrics(run)] == [
        {"resolution": 64, "alpha": 0.0}, {"resolution": 128, "alpha": 0.0},
        {"resolution": 128, "alpha": 1.0}]
    grid = Image.open(run / "samples" / "step-0000003.png")
    assert grid.size == (8 * 130 + 2, 8 * 130 + 2) and grid.mode == "RGB"
