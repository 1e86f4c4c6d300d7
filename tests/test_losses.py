"""Loss values against numbers computed by hand; every loss trains; companions resolve;
loss parameters are typed, checked, bound and recorded."""

from __future__ import annotations

import json
import math
import types

import pytest
import torch

import ganzoo
from ganzoo import host, resolve_recipe
from ganzoo.data import load_data
from ganzoo.errors import GanzooError
from ganzoo.host import get_table
from ganzoo.recipes import recipe_from_config, with_data_shape
from ganzoo.train.loop import Trainer
from tests.conftest import TINY, run_cli

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])
BUILTIN_LOSSES = ["bce", "bce-ns", "hinge", "lsgan", "ragan", "wgan", "wgan-gp"]


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def loss(name: str):
    return get_table().get("loss", name)


def test_bce_discriminator_loss():
    want = -(math.log(sig(2.0)) + math.log(sig(-1.0))) / 2 - (
        math.log(1 - sig(0.5)) + math.log(1 - sig(-3.0))) / 2
    got = loss("bce").d_loss(REAL, FAKE).item()
    assert got == pytest.approx(want, rel=1e-6)
    assert loss("bce-ns").d_loss(REAL, FAKE).item() == pytest.approx(want)


def test_bce_generator_losses():
    minimax = (math.log(1 - sig(0.5)) + math.log(1 - sig(-3.0))) / 2
    ns = -(math.log(sig(0.5)) + math.log(sig(-3.0))) / 2
    assert loss("bce").g_loss(FAKE, None).item() == pytest.approx(minimax)
    assert loss("bce-ns").g_loss(FAKE, None).item() == pytest.approx(ns)


def test_bce_is_stable_on_extreme_logits():
    big = torch.tensor([1e4, -1e4])
    for name in ("bce-ns", "ragan"):
        assert torch.isfinite(loss(name).d_loss(big, -big))
        assert torch.isfinite(loss(name).g_loss(big, -big))


# Hand computations on REAL = [2, -1], FAKE = [0.5, -3]:
#   hinge D: mean(max(0, 1-2), max(0, 1+1)) + mean(max(0, 1+0.5), max(0, 1-3))
#          = mean(0, 2) + mean(1.5, 0) = 1 + 0.75;   G: -mean(0.5, -3) = 1.25
#   wasserstein D: mean(fake) - mean(real) = -1.25 - 0.5;   G: 1.25
#   lsgan D: (mean((2-1)^2, (-1-1)^2) + mean(0.5^2, 3^2)) / 2 = (2.5 + 4.625) / 2
#         G: mean((0.5-1)^2, (-3-1)^2) / 2 = (0.25 + 16) / 4
@pytest.mark.parametrize(("name", "d_want", "g_want"), [
    ("hinge", 1.75, 1.25),
    ("wgan", -1.75, 1.25),
    ("wgan-gp", -1.75, 1.25),
    ("lsgan", 3.5625, 4.0625),
])
def test_loss_values_by_hand(name, d_want, g_want):
    assert loss(name).d_loss(REAL, FAKE).item() == pytest.approx(d_want, rel=1e-6)
    assert loss(name).g_loss(FAKE, None).item() == pytest.approx(g_want, rel=1e-6)


def test_ragan_values_by_hand():
    mean_r, mean_f = 0.5, -1.25
    d_want = (-(math.log(sig(2.0 - mean_f)) + math.log(sig(-1.0 - mean_f))) / 2
              - (math.log(1 - sig(0.5 - mean_r)) + math.log(1 - sig(-3.0 - mean_r))) / 2)
    g_want = (-(math.log(sig(0.5 - mean_r)) + math.log(sig(-3.0 - mean_r))) / 2
              - (math.log(1 - sig(2.0 - mean_f)) + math.log(1 - sig(-1.0 - mean_f))) / 2)
    ragan = loss("ragan")
    assert ragan.uses_real_in_g
    assert ragan.d_loss(REAL, FAKE).item() == pytest.approx(d_want, rel=1e-6)
    assert ragan.g_loss(FAKE, REAL).item() == pytest.approx(g_want, rel=1e-6)
    with pytest.raises(ValueError, match="uses_real_in_g"):
        ragan.g_loss(FAKE, None)


def test_wgan_gp_brings_the_gradient_penalty_into_the_recipe():
    recipe = resolve_recipe("dcgan", ["loss=wgan-gp"])
    assert [(r.name, r.weight, r.interval) for r in recipe.regularizers] == [("ganzoo:gp", 10.0, 1)]
    # a recipe entry overrides the companion's fields; weight 0 turns it off
    recipe = resolve_recipe("dcgan", ["loss=wgan-gp", "regularizers=[{name: gp, interval: 2}]"])
    assert [(r.weight, r.interval) for r in recipe.regularizers] == [(10.0, 2)]
    recipe = resolve_recipe("dcgan-wgan-gp", ["regularizers=[drift, {name: gp, weight: 0}]"])
    assert [(r.name, r.weight) for r in recipe.regularizers] == [("ganzoo:gp", 0.0),
                                                                ("ganzoo:drift", 0.001)]
    assert resolve_recipe("dcgan", ["loss=wgan"]).regularizers == []
    # 'regularizers=' (as --help shows) and '[]' both clear a recipe's own list
    for empty in ("regularizers=", "regularizers=[]"):
        assert resolve_recipe("dcgan-r1", [empty]).regularizers == []
    assert [r.name for r in resolve_recipe("progan", ["regularizers="]).regularizers] == [
        "ganzoo:gp"]  # the loss's companion stays


def test_wgan_gp_recipe_says_what_the_loss_needs():
    t = resolve_recipe("dcgan-wgan-gp").train
    assert (t.n_critic, t.betas, t.lr) == (5, (0.0, 0.9), 1e-4)
    assert resolve_recipe("dcgan-wgan").train.n_critic == 5


@pytest.fixture(scope="module")
def fashion():
    return load_data("fashion-mnist", 32, table=get_table())


def tiny_trainer(tmp_path, data, *overrides: str) -> Trainer:
    recipe = resolve_recipe("dcgan", ["generator.ngf=8", "discriminator.ndf=8",
                                      "train.batch=16", *overrides])
    recipe = with_data_shape(recipe, data.channels, data.num_classes)
    return Trainer(recipe, data, tmp_path, torch.device("cpu"), table=get_table())


@pytest.mark.parametrize("name", BUILTIN_LOSSES)
def test_each_loss_trains_a_tiny_model_without_nan(name, tmp_path, fashion):
    trainer = tiny_trainer(tmp_path, fashion, f"loss={name}", "train.n_critic=2")
    d_before = [p.detach().clone() for p in trainer.D.parameters()]
    for _ in range(2):
        losses = trainer.train_step()
        assert torch.isfinite(losses.d_loss) and torch.isfinite(losses.g_loss)
    for module in (trainer.G, trainer.D):
        assert all(torch.isfinite(p).all() for p in module.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(d_before, trainer.D.parameters()))
    assert trainer.d_steps == 4


def test_all_builtin_losses_are_listed():
    assert set(BUILTIN_LOSSES) <= set(get_table().names("loss"))


def test_wgan_clips_the_critic_weights_after_each_d_step(tmp_path, fashion):
    trainer = tiny_trainer(tmp_path, fashion, "loss=wgan")
    assert max(p.abs().max().item() for p in trainer.D.parameters()) > 0.01  # init exceeds c
    trainer.train_step()
    params = list(trainer.D.parameters())
    assert max(p.abs().max().item() for p in params) == pytest.approx(0.01)
    assert all((p.abs() <= 0.01).all() for p in params)
    # not a property of training alone: the same step without the constraint leaves them big
    free = tiny_trainer(tmp_path / "free", fashion, "loss=wgan-gp",
                        "regularizers=[{name: gp, weight: 0}]")
    free.train_step()
    assert max(p.abs().max().item() for p in free.D.parameters()) > 0.01


def test_wgan_gp_trains_under_bf16_autocast(tmp_path, fashion):
    trainer = tiny_trainer(tmp_path, fashion, "loss=wgan-gp", "train.precision=bf16")
    for _ in range(2):
        losses = trainer.train_step()
        assert torch.isfinite(losses.d_loss) and torch.isfinite(losses.g_loss)


def test_cli_trains_with_a_loss_and_records_its_companions(tmp_path):
    run = tmp_path / "run"
    proc = run_cli("train", "--steps", "2", "--out", str(run), *TINY, "--set", "loss=wgan-gp",
                   "--set", "regularizers=[{name: drift, weight: 0.01}]")
    assert "loss ganzoo:wgan-gp + ganzoo:gp weight 10 every 1, ganzoo:drift weight 0.01 " \
           "every 1" in proc.stderr
    recipe = json.loads((run / "config.json").read_text())["recipe"]
    assert recipe["loss"] == "ganzoo:wgan-gp"
    assert recipe["regularizers"] == [{"name": "ganzoo:gp", "weight": 10.0, "interval": 1},
                                      {"name": "ganzoo:drift", "weight": 0.01, "interval": 1}]
    # reading config.json back (as --resume and sample do) merges the companion only once
    again = recipe_from_config(json.loads((run / "config.json").read_text()), table=get_table())
    assert again.to_dict()["regularizers"] == recipe["regularizers"]


def test_cli_unknown_loss_lists_the_known_ones():
    proc = run_cli("train", "--set", "loss=nosuch", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip()
    assert line.startswith("error: unknown loss 'nosuch'")
    for name in BUILTIN_LOSSES:
        assert name in line.split("Known losses:")[1]


def test_zoo_list_shows_losses_and_regularizers_with_their_companions():
    rows = json.loads(run_cli("zoo", "list", "--losses", "--json").stdout)
    by_name = {(r["kind"], r["name"]): r for r in rows}
    for name in BUILTIN_LOSSES:
        row = by_name[("loss", name)]
        assert row["full_name"] == f"ganzoo:{name}" and row["description"] and row["paper"]
    for name in ("r1", "r2", "gp", "drift"):
        assert by_name[("regularizer", name)]["description"]
    assert by_name[("regularizer", "r1")]["interval"] == 16
    assert by_name[("regularizer", "drift")]["weight"] == 0.001
    assert "WeightClip(c=0.01)" in by_name[("loss", "wgan")]["companions"]
    assert "regularizer gp (weight 10, interval 1)" in by_name[("loss", "wgan-gp")]["companions"]
    assert by_name[("loss", "lsgan")]["params"] == {"a": 0.0, "b": 1.0, "c": 1.0}
    assert by_name[("loss", "hinge")]["params"] == {"margin": 1.0}
    assert by_name[("loss", "bce-ns")]["params"] == {}
    table = run_cli("zoo", "list", "--losses", env={"COLUMNS": "200"}).stdout
    assert "parameters (loss: {name: lsgan, ...}): a 0.0 (float), b 1.0 (float), c 1.0 " \
           "(float)" in table


# -- loss parameters -------------------------------------------------------------------------

# Hand computations on REAL = [2, -1], FAKE = [0.5, -3] with Mao et al.'s a=-1, b=1, c=0:
#   lsgan D: (mean((2-1)^2, (-1-1)^2) + mean((0.5+1)^2, (-3+1)^2)) / 2 = (2.5 + 3.125) / 2
#         G: mean(0.5^2, (-3)^2) / 2 = 4.625 / 2
# and hinge with margin 2: D: mean(max(0, 2-2), max(0, 2+1)) + mean(max(0, 2+0.5), max(0, 2-3))
#   = 1.5 + 1.25;  G: -mean(fake) = 1.25 (no margin in G's loss)
@pytest.mark.parametrize(("name", "params", "d_want", "g_want"), [
    ("lsgan", {"a": -1.0, "b": 1.0, "c": 0.0}, 2.8125, 2.3125),
    ("lsgan", {"a": 0.0, "b": 1.0, "c": 1.0}, 3.5625, 4.0625),  # the defaults: as before
    ("hinge", {"margin": 2.0}, 2.75, 1.25),
])
def test_loss_parameters_by_hand(name, params, d_want, g_want):
    bound = loss(name).with_params(params)
    assert bound.d_loss(REAL, FAKE).item() == pytest.approx(d_want, rel=1e-6)
    assert bound.g_loss(FAKE, None).item() == pytest.approx(g_want, rel=1e-6)


def test_a_recipe_sets_loss_parameters_and_config_json_records_them_all():
    recipe = resolve_recipe("dcgan", ["loss={name: lsgan, a: -1, b: 1, c: 0}"])
    assert (recipe.loss, recipe.loss_params) == ("ganzoo:lsgan", {"a": -1.0, "b": 1.0, "c": 0.0})
    assert all(isinstance(v, float) for v in recipe.loss_params.values())  # typed: -1 -> -1.0
    assert recipe.to_dict()["loss"] == {"name": "ganzoo:lsgan", "a": -1.0, "b": 1.0, "c": 0.0}
    # a bare name keeps every default, and config.json still records them
    plain = resolve_recipe("dcgan-lsgan")
    assert plain.to_dict()["loss"] == {"name": "ganzoo:lsgan", "a": 0.0, "b": 1.0, "c": 1.0}
    # --set loss.PARAM on a recipe that writes its loss as a name
    one = resolve_recipe("dcgan-lsgan", ["loss.c=0.5"])
    assert one.loss_params == {"a": 0.0, "b": 1.0, "c": 0.5}
    # a loss without parameters stays a plain name in config.json
    assert resolve_recipe("dcgan").to_dict()["loss"] == "ganzoo:bce-ns"


def test_an_old_config_json_with_a_bare_loss_name_still_loads():
    """Runs made before losses took parameters record ``"loss": "ganzoo:lsgan"``; sample,
    export and --resume read them with the loss's defaults."""
    config = {"recipe": {**resolve_recipe("dcgan-lsgan").to_dict(), "loss": "ganzoo:lsgan"},
              "data": {"channels": 1, "num_classes": 0}}
    recipe = recipe_from_config(config, get_table())
    assert (recipe.loss, recipe.loss_params) == ("ganzoo:lsgan", {"a": 0.0, "b": 1.0, "c": 1.0})
    again = recipe_from_config({**config, "recipe": recipe.to_dict()}, get_table())
    assert again.loss_params == recipe.loss_params


@pytest.mark.parametrize(("overrides", "message"), [
    (["loss={name: lsgan, d: 1}"], r"recipe 'dcgan': loss 'ganzoo:lsgan' has no parameter 'd': "
                                   r"its parameters, with their defaults: a 0, b 1, c 1"),
    (["loss={name: lsgan, aa: 1}"], r"has no parameter 'aa': did you mean 'a'\?"),
    (["loss={name: lsgan, a: high}"], r"recipe 'dcgan': loss.a must be a number, got 'high' \(a "
                                      r"float parameter of loss 'ganzoo:lsgan', default 0.0\)"),
    (["loss={name: lsgan, a: true}"], r"loss.a must be a number, got True"),
    (["loss=hinge", "loss.margin=[1, 2]"], r"loss.margin must be a number, got \[1, 2\]"),
    (["loss.margin=2"], r"loss 'ganzoo:bce-ns' takes no parameters, got 'margin'"),
    (["loss={a: 1}"], r"recipe 'dcgan': loss \{'a': 1\} needs a 'name' naming the loss"),
    (["loss=[lsgan]"], r"loss must be a name such as 'hinge', got \['lsgan'\]; to set a "
                       r"loss's parameters write a mapping"),
])
def test_bad_loss_parameters_are_one_clear_error(overrides, message):
    with pytest.raises(GanzooError, match=message):
        resolve_recipe("dcgan", overrides)


def make_plugin(**hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: ganzoo.hookimpl(fn) for name, fn in hooks.items()})


@pytest.mark.parametrize(("fields", "message"), [
    ({"params": {"margin": 1.0}}, r"parameter 'margin' is taken by neither d_loss nor g_loss"),
    ({"params": {"m": None}}, r"parameter 'm' needs a default of type bool, int, float or str"),
    ({"params": {"name": 1.0}}, r"parameter name 'name' must be a Python identifier other than "
                                r"'name'"),
    ({"params": [("m", 1.0)]}, r"params must map parameter names to their defaults"),
    ({"d_loss": lambda r, f, *, m: f.mean()}, r"d_loss requires the argument 'm'; declare it in "
                                              r"params with its default"),
])
def test_a_loss_with_badly_declared_parameters_is_refused(fields, message):
    def register_losses(register):
        register("probe", **{"d_loss": lambda r, f: f.mean(), "g_loss": lambda f, r: -f.mean(),
                             **fields})

    with pytest.raises(GanzooError, match=r"plugin 'acme' loss 'probe': " + message):
        host.register_plugin(make_plugin(register_losses=register_losses), "acme")
    assert "probe" not in get_table().names("loss")


def test_the_training_loop_passes_each_function_the_parameters_it_names(tmp_path, fashion):
    seen: dict[str, list] = {"d": [], "g": []}

    def d_loss(real, fake, **params):
        seen["d"].append(params)
        return fake.mean() - real.mean()

    def g_loss(fake, real=None, *, scale):
        seen["g"].append(scale)
        return -scale * fake.mean()

    def register_losses(register):
        register("probe", d_loss=d_loss, g_loss=g_loss,
                 params={"scale": 1.0, "flag": False, "mode": "x", "k": 2})

    plugin = make_plugin(register_losses=register_losses)
    host.register_plugin(plugin, "acme")
    try:
        trainer = tiny_trainer(tmp_path, fashion, "loss={name: probe, scale: 3, flag: true}")
        trainer.train_step()
    finally:
        host.unregister_plugin(plugin, "acme")
    # **params receives every parameter; g_loss only the one it names; types as declared
    assert seen["d"] == [{"scale": 3.0, "flag": True, "mode": "x", "k": 2}]
    assert seen["g"] == [3.0] and isinstance(seen["g"][0], float)


def test_cli_trains_with_a_loss_parameter_set_and_records_it(tmp_path):
    run = tmp_path / "run"
    proc = run_cli("train", "--arch", "dcgan-lsgan", "--steps", "2", "--out", str(run), *TINY,
                   "--set", "loss.a=-1", "--set", "loss.c=0")
    assert "loss ganzoo:lsgan (a -1, b 1, c 0)" in proc.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"]["loss"] == {"name": "ganzoo:lsgan", "a": -1.0, "b": 1.0, "c": 0.0}
    assert len(list((run / "checkpoints").glob("step-*.safetensors"))) >= 1
    # what --resume and sample read back is the same loss with the same values
    again = recipe_from_config(config, table=get_table())
    assert (again.loss, again.loss_params) == ("ganzoo:lsgan", {"a": -1.0, "b": 1.0, "c": 0.0})
