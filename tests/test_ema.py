"""The EMA generator: its length in images with a ramp-up, and BatchNorm statistics of its own."""

from __future__ import annotations

import copy

import pytest
import torch

from ganzoo import resolve_recipe
from ganzoo.data import load_data
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.train.ema import ema_beta, recompute_batchnorm, update_ema
from ganzoo.train.loop import Trainer


def test_the_half_life_is_ema_kimg_thousand_images():
    beta = ema_beta(10**9, 64, ema_kimg=10, ema_rampup=None)
    assert beta ** (10_000 / 64) == pytest.approx(0.5)


def test_the_ramp_up_shortens_the_average_early_on():
    early = ema_beta(64 * 100, 64, ema_kimg=10, ema_rampup=0.05)  # 6400 images seen
    assert early ** (320 / 64) == pytest.approx(0.5)  # half-life 5% of what was seen
    assert ema_beta(0, 64, 10, 0.05) == 0.0  # step 0: the EMA starts as G
    assert ema_beta(10**9, 64, 10, 0.05) == ema_beta(10**9, 64, 10, None)


def _trained(tmp_path, steps=3):
    recipe = resolve_recipe("dcgan", ["generator.ngf=8", "discriminator.ndf=8",
                                      "train.batch=16", "train.precision=fp32"])
    data = load_data("fashion-mnist", 32, table=get_table())
    trainer = Trainer(with_data_shape(recipe, 1, 0), data, tmp_path, torch.device("cpu"),
                      table=get_table())
    for _ in range(steps):
        trainer.train_step()
    return trainer


def _bn_stats(model):
    return {k: v.clone() for k, v in model.state_dict().items() if "running" in k}


def test_the_ema_has_batchnorm_statistics_of_its_own_weights(tmp_path, one_thread):
    trainer = _trained(tmp_path)
    trainer.refresh_ema()
    ema, raw = _bn_stats(trainer.G_ema), _bn_stats(trainer.G)
    assert ema.keys() == raw.keys() and ema
    assert all(not torch.allclose(ema[k], raw[k]) for k in ema if "mean" in k)

    # the same as measuring them by hand: the EMA weights on the fixed seeded latents
    again = copy.deepcopy(trainer.G_ema)
    for m in again.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.fill_(123.0)
    recompute_batchnorm(again, trainer.nz, 0, trainer.device, trainer.fast,
                        seed=trainer.recipe.train.seed + 3)
    for k, v in _bn_stats(again).items():
        torch.testing.assert_close(v, ema[k])
    assert not again.training


def test_updating_the_ema_leaves_its_batchnorm_statistics_alone(tmp_path, one_thread):
    trainer = _trained(tmp_path, steps=1)
    trainer.refresh_ema()
    before = _bn_stats(trainer.G_ema)
    update_ema(trainer.G_ema, trainer.G, 0.5)
    assert all(torch.equal(before[k], v) for k, v in _bn_stats(trainer.G_ema).items())


def test_checkpoints_and_samples_carry_the_refreshed_statistics(tmp_path, one_thread):
    from ganzoo.store.checkpoint import read_checkpoint

    trainer = _trained(tmp_path, steps=2)
    path = trainer.save_checkpoint()
    tensors, _ = read_checkpoint(path)
    for k, v in _bn_stats(trainer.G_ema).items():
        torch.testing.assert_close(tensors[f"G_ema.{k}"], v)
    assert trainer._ema_stats_at == trainer.step
