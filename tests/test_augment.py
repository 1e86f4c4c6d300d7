"""DiffAugment: each operation does what it says, per image, and lets gradients through."""

from __future__ import annotations

import pytest
import torch

from ganzoo import resolve_recipe
from ganzoo.data import load_data
from ganzoo.errors import GanzooError
from ganzoo.host import get_table
from ganzoo.nn import augment
from ganzoo.recipes import with_data_shape
from ganzoo.train.loop import train


def _dot_images(n: int = 64, size: int = 16) -> torch.Tensor:
    """One bright pixel in the middle of an otherwise zero image."""
    x = torch.zeros(n, 1, size, size)
    x[:, :, size // 2, size // 2] = 1.0
    return x


def test_translation_moves_each_image_by_at_most_an_eighth_and_differently():
    torch.manual_seed(0)
    x = _dot_images()
    out = augment.translation(x)
    assert out.shape == x.shape
    moved = []
    for image in out[:, 0]:
        (ys, xs) = torch.nonzero(image, as_tuple=True)
        assert len(ys) == 1  # a shift by at most 2 px keeps the middle pixel inside
        dy, dx = ys.item() - 8, xs.item() - 8
        assert abs(dy) <= 2 and abs(dx) <= 2
        moved.append((dy, dx))
    assert len(set(moved)) > 5  # per image, not one shift for the batch


def test_translation_shifts_in_zeros_at_the_edge():
    torch.manual_seed(1)
    out = augment.translation(torch.ones(64, 3, 16, 16))
    zeros = (out == 0).all(dim=1).sum(dim=(1, 2))
    assert zeros.max() > 0  # some images were shifted: a zero border came in
    assert set(torch.unique(out).tolist()) <= {0.0, 1.0}  # values moved, never blended


def test_cutout_zeroes_one_half_size_square_per_image():
    torch.manual_seed(2)
    out = augment.cutout(torch.ones(64, 1, 16, 16))
    zeros = (out[:, 0] == 0).sum(dim=(1, 2))
    assert zeros.max() == 64  # an 8x8 square fully inside
    assert zeros.min() >= 16  # at least a quarter of it even in a corner
    for image in out[:, 0]:
        ys, xs = torch.nonzero(image == 0, as_tuple=True)
        area = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        assert area == len(ys)  # one solid rectangle


def test_color_changes_brightness_and_contrast_per_image():
    torch.manual_seed(3)
    x = torch.linspace(-1, 1, 16 * 16).reshape(1, 1, 16, 16).repeat(64, 1, 1, 1)
    out = augment.color(x)
    means, spreads = out.mean(dim=(1, 2, 3)), out.std(dim=(1, 2, 3))
    assert means.min() < -0.2 and means.max() > 0.2  # brightness in [-0.5, 0.5]
    ratio = spreads / x[0].std()
    assert ratio.min() >= 0.5 - 1e-4 and ratio.max() <= 1.5 + 1e-4  # contrast in [0.5, 1.5]
    assert ratio.max() - ratio.min() > 0.3


@pytest.mark.parametrize("name", sorted(augment.OPERATIONS))
def test_every_operation_lets_gradients_through(name):
    x = torch.randn(8, 3, 16, 16, requires_grad=True)
    augment.OPERATIONS[name](x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_the_operations_run_in_a_fixed_order_and_unknown_ones_are_refused():
    assert augment.parse("cutout, translation,color") == ["color", "translation", "cutout"]
    assert augment.parse("") == []
    with pytest.raises(ValueError, match="unknown augmentation 'flip'; choose from color, "
                                         "translation, cutout"):
        augment.parse("translation,flip")
    with pytest.raises(GanzooError, match="train.augment unknown augmentation 'flip'"):
        resolve_recipe("dcgan", ["train.augment=flip"])


def test_training_with_every_augmentation_runs_and_reaches_the_discriminator(tmp_path, one_thread):
    recipe = resolve_recipe("dcgan", ["generator.ngf=8", "discriminator.ndf=8", "train.batch=16",
                                      "train.augment=color,translation,cutout",
                                      "train.precision=fp32"])
    data = load_data("fashion-mnist", 32, table=get_table())
    recipe = with_data_shape(recipe, data.channels, data.num_classes)
    seen = []
    trainer = train(recipe, data, tmp_path / "run", torch.device("cpu"), steps=1,
                    show_progress=False, table=get_table())
    trainer.D.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    trainer.fit(2, show_progress=False)
    assert trainer.step == 2
    # cutout left a zero square in every image D saw, reals included
    assert all(((batch == 0).all(dim=1).sum(dim=(1, 2)) >= 16).all() for batch in seen)
