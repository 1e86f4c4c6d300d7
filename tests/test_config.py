"""Recipes and overrides: typed, validated, and every error names the fix."""

from __future__ import annotations

import pytest

from ganzoo import resolve_recipe
from ganzoo.errors import GanzooError, UnknownComponentError
from ganzoo.host import get_table
from ganzoo.recipes import resolve_spec
from ganzoo.zoo.recipes import read_recipes, registry_path


def test_every_shipped_recipe_resolves():
    names = read_recipes(registry_path())
    assert {"dcgan", "dcgan-64"} <= set(names)
    for name in names:
        recipe = resolve_recipe(name)
        assert recipe.generator_arch.startswith(("ganzoo:", "timm:"))


def test_overrides_are_typed():
    r = resolve_recipe("dcgan", ["train.lr=1e-4", "generator.ngf=32", "train.betas=[0, 0.9]",
                                 "train.lr_d=4e-4"])
    assert r.train.lr == 1e-4 and isinstance(r.train.lr, float)
    assert r.generator.ngf == 32
    assert r.train.betas == (0.0, 0.9)
    assert r.train.lr_d == 4e-4


@pytest.mark.parametrize(("override", "message"), [
    ("train.lrr=1", "has no key 'lrr': did you mean 'lr'"),
    ("generator.ngf=wide", "generator.ngf must be an integer"),
    ("train.lr=-1", "train.lr must be a positive learning rate"),
    ("train.resolution=48", "must be a power of two"),
    ("generator.resolution=64", "set train.resolution instead"),
    ("train.betas=[0.5]", "must be a list of 2 values"),
    ("loss=nosuch", "unknown loss 'nosuch'"),
    ("nonsense=1", "has no key 'nonsense'"),
    ("train.precision=fp8", "must be one of auto, fp32, bf16, fp16"),
])
def test_bad_overrides_fail_clearly(override, message):
    with pytest.raises(GanzooError, match=message) as info:
        resolve_recipe("dcgan", [override])
    assert "recipe 'dcgan'" in str(info.value) or "unknown" in str(info.value)


def test_override_syntax_error():
    with pytest.raises(GanzooError, match="write KEY=VALUE"):
        resolve_recipe("dcgan", ["train.lr"])


def test_unknown_arch_lists_known_ones():
    with pytest.raises(UnknownComponentError, match="Known recipes and architectures: .*dcgan"):
        resolve_recipe("nosuch")


def test_bare_architecture_resolves_with_defaults():
    recipe = resolve_recipe("ganzoo:dcgan")
    assert recipe.generator_arch == "ganzoo:dcgan" and recipe.loss == "ganzoo:bce-ns"


@pytest.mark.parametrize(("spec", "message"), [
    ({"generator": {"arch": "dcgan"}, "discriminator": {"arch": "dcgan"}, "trian": {}},
     "has no key 'trian': did you mean 'train'"),
    ({"generator": {"arch": "nosuch"}, "discriminator": {"arch": "dcgan"}},
     "unknown architecture 'nosuch'"),
    ({"generator": {"arch": "dcgan", "ngf": "64x"}, "discriminator": {"arch": "dcgan"}},
     "recipe 'bad': generator.ngf must be an integer"),
    ({"discriminator": {"arch": "dcgan"}}, "needs a 'generator"),
    ({"generator": {"arch": "dcgan"}, "discriminator": {"arch": "dcgan"}, "train": {"batch": 0}},
     "train.batch must be at least 1"),
    ({"generator": {"arch": "dcgan"}, "discriminator": {"arch": "dcgan"}, "loss": ["hinge"]},
     r"recipe 'bad': loss must be a name such as 'hinge', got \['hinge'\]"),
])
def test_malformed_recipe_entries(spec, message):
    with pytest.raises(GanzooError, match=message):
        resolve_spec("bad", spec, get_table())


def test_registry_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "registry.yaml"
    bad.write_text("dcgan: [1, 2]\n")
    with pytest.raises(GanzooError, match=r"registry.yaml: entry 'dcgan' must be a mapping"):
        read_recipes(bad)
    bad.write_text("dcgan: {generator: [\n")
    with pytest.raises(GanzooError, match="is not valid YAML"):
        read_recipes(bad)
    bad.write_text("dcgan: {generator: {arch: dcgan}, discriminator: {arch: dcgan}, loss: 3}\n")
    with pytest.raises(GanzooError, match=r"registry.yaml: entry 'dcgan': loss must be a name"):
        read_recipes(bad)
