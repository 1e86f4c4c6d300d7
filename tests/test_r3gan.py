"""R3GAN: the rpgan loss and its R1 + R2 companions by hand, the architecture's shapes and its
zero-initialised residuals, the cosine schedule, and the recipes through the real CLI and export."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo import create_discriminator, create_generator, resolve_recipe
from ganzoo.data import load_data
from ganzoo.errors import GanzooError
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.train.loop import Trainer
from ganzoo.zoo.losses import rpgan_d_loss, rpgan_g_loss
from ganzoo.zoo.r3gan import R3GANDiscriminator, R3GANGenerator, ResidualBlock
from ganzoo.zoo.regularizers import r1_penalty, r2_penalty
from tests.conftest import run_cli

TINY = {"widths": [16, 16, 16, 16], "group_channels": 8}


def test_rpgan_losses_by_hand():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 1.0])
    d = (math.log1p(math.exp(-(2.0 - 0.5))) + math.log1p(math.exp(-(-1.0 - 1.0)))) / 2
    g = (math.log1p(math.exp(-(0.5 - 2.0))) + math.log1p(math.exp(-(1.0 + 1.0)))) / 2
    assert rpgan_d_loss(real, fake).item() == pytest.approx(d)
    assert rpgan_g_loss(fake, real).item() == pytest.approx(g)
    with pytest.raises(ValueError, match="uses_real_in_g"):
        rpgan_g_loss(fake, None)


def test_rpgan_brings_r1_and_r2_with_gamma_from_the_recipe():
    recipe = resolve_recipe("r3gan")
    regs = {r.name: (r.weight, r.interval) for r in recipe.regularizers}
    assert regs == {"ganzoo:r1": (1.0, 8), "ganzoo:r2": (1.0, 8)}
    bare = resolve_recipe("dcgan", ["loss=rpgan"])
    assert {r.name for r in bare.regularizers} == {"ganzoo:r1", "ganzoo:r2"}


def test_r1_and_r2_by_hand_on_a_linear_critic():
    """D(x) = <w, x>: the input gradient is w for every sample, so R1 = R2 = |w|^2 / 2."""
    w = torch.tensor([[[[1.0, -2.0], [0.5, 3.0]]]])

    def D(x, labels=None):
        return (x * w).flatten(1).sum(1)

    x = torch.randn(4, 1, 2, 2)
    expected = 0.5 * w.square().sum().item()
    assert r1_penalty(D, x, x * 0).item() == pytest.approx(expected)
    assert r2_penalty(D, x * 0, x).item() == pytest.approx(expected)


@pytest.mark.parametrize("resolution", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(resolution, channels):
    kw = {"resolution": resolution, "channels": channels}
    G = create_generator("r3gan", {**TINY, "nz": 8, **kw})
    D = create_discriminator("r3gan", {**TINY, **kw})
    x = G(torch.randn(5, 8))
    assert x.shape == (5, channels, resolution, resolution)
    assert x.abs().max() <= 1
    assert D(x).shape == (5,)


def test_conditional_shapes_and_labels():
    G = create_generator("r3gan", {**TINY, "nz": 8, "num_classes": 10})
    D = create_discriminator("r3gan", {**TINY, "num_classes": 10})
    labels = torch.arange(4)
    assert D(G(torch.randn(4, 8), labels), labels).shape == (4,)
    with pytest.raises(ValueError, match="pass labels"):
        G(torch.randn(4, 8))


def test_a_fresh_block_is_the_identity_on_its_residual_path():
    block = ResidualBlock(16, 2, 8, blocks=4)
    x = torch.randn(3, 16, 8, 8)
    assert torch.equal(block(x), x)
    assert block.project.weight.abs().sum() == 0
    # fix-up: the layers before the zero-initialised one are scaled down with depth
    deeper = ResidualBlock(16, 2, 8, blocks=64)
    assert deeper.expand.weight.std() < block.expand.weight.std()


def test_bad_widths_are_one_clear_error():
    with pytest.raises(GanzooError, match=r"widths needs 3 positive widths \(4x4 up to 16x16\)"):
        R3GANGenerator(R3GANGenerator.config_class(widths=[8, 8]))
    with pytest.raises(GanzooError, match="multiple of group_channels"):
        R3GANDiscriminator(R3GANDiscriminator.config_class(widths=[12, 12, 12],
                                                           group_channels=16))


def test_cosine_schedule_decays_lr_and_regularizer_weights(tmp_path, one_thread):
    recipe = resolve_recipe("r3gan", [
        "generator.widths=[16,16,16]", "discriminator.widths=[16,16,16]",
        "generator.group_channels=8", "discriminator.group_channels=8",
        "train.batch=8", "train.steps=4", "train.resolution=16"])
    data = load_data("fashion-mnist", 16, table=get_table())
    trainer = Trainer(with_data_shape(recipe, 1, 0), data, tmp_path, torch.device("cpu"),
                      table=get_table())
    lrs, scales = [], []
    for _ in range(4):
        trainer.train_step()
        lrs.append(trainer.opt_g.param_groups[0]["lr"])
        scales.append(trainer.reg_scale)
    t = recipe.train
    assert lrs[0] == pytest.approx(t.lr)  # step 0: the full value
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] > t.lr * t.lr_final
    assert scales[0] == 1.0 and scales[-1] < 1.0
    assert lrs[2] == pytest.approx(t.lr * (t.lr_final + (1 - t.lr_final) * 0.5))  # half way


def test_schedule_is_checked():
    with pytest.raises(GanzooError, match="train.schedule must be one of constant, cosine"):
        resolve_recipe("r3gan", ["train.schedule=linear"])


@pytest.mark.parametrize("recipe", ["r3gan", "r3gan-cond"])
def test_recipe_trains_samples_and_exports_through_the_cli(recipe, tmp_path):
    run = tmp_path / "run"
    small = ["--set", "generator.widths=[16,16,16]", "--set", "discriminator.widths=[16,16,16]",
             "--set", "generator.group_channels=8", "--set", "discriminator.group_channels=8"]
    run_cli("train", "--arch", recipe, "--steps", "2", "--batch", "8", "--out", str(run), "-q",
            *small)
    run_cli("sample", str(run), "-n", "4", "-o", str(tmp_path / "grid.png"))
    out = run_cli("export", str(run)).stdout
    assert "generator.onnx" in out and "r3gan" in out
