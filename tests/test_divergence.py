"""The divergence guard: a NaN/Inf loss stops the run at its step; no NaN ever reaches disk."""

from __future__ import annotations

import types

import pytest
import torch
import torch.nn.functional as F

import ganzoo
from ganzoo import host, resolve_recipe
from ganzoo.data import load_data
from ganzoo.errors import Diverged
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.store import checkpoint as ckpt
from ganzoo.train.loop import train

CPU = torch.device("cpu")
TINY = ["generator.ngf=8", "discriminator.ndf=8", "train.batch=16", "train.precision=fp32"]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def nan_loss_plugin(bad_call: int) -> types.SimpleNamespace:
    """A BCE-like loss whose D loss turns NaN on its ``bad_call``-th call (= that step)."""
    calls = {"n": 0}

    def d_loss(real, fake):
        calls["n"] += 1
        loss = F.softplus(fake).mean() + F.softplus(-real).mean()
        return loss * float("nan") if calls["n"] == bad_call else loss

    def register_losses(register):
        register("nan-at-3", d_loss=d_loss, g_loss=lambda f, r: F.softplus(-f).mean())

    return types.SimpleNamespace(register_losses=ganzoo.hookimpl(register_losses))


def tiny(*overrides: str):
    recipe = resolve_recipe("dcgan", [*TINY, *overrides])
    data = load_data("fashion-mnist", recipe.train.resolution, table=get_table())
    return with_data_shape(recipe, data.channels, data.num_classes), data


def test_nan_loss_stops_the_run_naming_its_step_and_keeps_the_good_checkpoint(tmp_path):
    plugin = nan_loss_plugin(bad_call=3)
    host.register_plugin(plugin, "nan")
    try:
        # checked at step 4 (a checkpoint step), reported as step 3, before anything is written
        recipe, data = tiny("loss=nan-at-3", "train.checkpoint_every=2", "train.log_every=5")
        with pytest.raises(Diverged) as info:
            train(recipe, data, tmp_path / "run", CPU, steps=10, show_progress=False,
                  table=get_table())
    finally:
        host.unregister_plugin(plugin, "nan")
    message = str(info.value)
    good = ckpt.checkpoint_path(tmp_path / "run", 2)
    assert message.startswith("training diverged at step 3: D loss nan, G loss ")
    assert f"the last good checkpoint is {good}" in message
    assert "Lower the learning rate (train.lr=0.0004)" in message  # the dcgan recipe's
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "run")] == [2]
    assert ckpt.first_non_finite(ckpt.read_checkpoint(good)[0]) is None


def test_a_checkpoint_with_non_finite_weights_is_never_written(tmp_path):
    recipe, data = tiny("train.checkpoint_every=2")
    trainer = train(recipe, data, tmp_path / "run", CPU, steps=2, show_progress=False,
                    table=get_table())
    with torch.no_grad():
        next(trainer.D.parameters()).view(-1)[0] = float("inf")
    trainer.step = 4
    with pytest.raises(Diverged, match=r"by step 4: D\.\S+ holds NaN/Inf, so no checkpoint was "
                                       r"written \(the last good checkpoint is .*step-0000002"):
        trainer.save_checkpoint()
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "run")] == [2]


def test_best_checkpoint_is_never_written_with_non_finite_weights_or_score(tmp_path,
                                                                          monkeypatch):
    """``--eval-every`` keeps checkpoints/best.safetensors: a NaN score never becomes the
    best, and NaN weights are refused like a step checkpoint's, leaving the good best as it
    was."""
    from ganzoo.data import ImageData
    from ganzoo.metrics import scoring
    from ganzoo.train.evaluation import TrainingEvaluator

    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "cache"))
    recipe, data = tiny("train.checkpoint_every=2")
    trainer = train(recipe, data, tmp_path / "run", CPU, steps=2, show_progress=False,
                    table=get_table())
    reference = ImageData(data.images[:200], data.labels[:200], data.class_names,
                          source="fashion-mnist[:200]")
    evaluator = TrainingEvaluator(reference, n=50, metrics=("fd",), table=get_table())
    best = tmp_path / "run" / "checkpoints" / ckpt.BEST_NAME

    with monkeypatch.context() as m:
        m.setattr(scoring, "frechet_distance", lambda *args: float("nan"))
        evaluator(trainer)
    assert not best.exists() and evaluator.best is None

    evaluator(trainer)
    assert ckpt.read_checkpoint(best)[1]["step"] == "2"
    good = best.read_bytes()

    with torch.no_grad():
        next(trainer.G_ema.parameters()).view(-1)[0] = float("nan")
    with monkeypatch.context() as m:
        m.setattr(scoring, "frechet_distance", lambda *args: 0.0)  # the best score yet
        with pytest.raises(Diverged, match=r"by step 2: G_ema\.\S+ holds NaN/Inf, so \S+"
                                           r"best\.safetensors was not written \(the last good "
                                           r"checkpoint is .*step-0000002"):
            evaluator(trainer)
    assert best.read_bytes() == good
