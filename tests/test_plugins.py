"""The plugin manager: in-process plugins, real entry points, clashes, bad hooks."""

from __future__ import annotations

import json
import textwrap
import types

import pytest
import torch

import ganzoo
from ganzoo import host, resolve_recipe
from ganzoo.errors import AmbiguousNameError, GanzooError, UnknownComponentError
from ganzoo.zoo.dcgan import DCGANDiscriminator, DCGANGenerator
from tests.conftest import plugins_env, run_cli


def make_plugin(**hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: ganzoo.hookimpl(fn) for name, fn in hooks.items()})


def test_builtins_are_registered_through_the_hooks():
    loaded = host.get_host()
    builtin = loaded.statuses[0]
    assert builtin.builtin and builtin.name == "ganzoo"
    assert "register_architectures" in builtin.hooks
    assert "ganzoo:dcgan" in builtin.provides
    assert loaded.table.resolve("architecture", "dcgan").full_name == "ganzoo:dcgan"


def test_in_process_plugin_adds_a_usable_loss_then_leaves():
    def register_losses(register):
        register("mean-gap", d_loss=lambda r, f: f.mean() - r.mean(),
                 g_loss=lambda f, r: -f.mean(), description="toy")

    plugin = make_plugin(register_losses=register_losses)
    host.register_plugin(plugin, "toy")
    try:
        recipe = resolve_recipe("dcgan", ["loss=mean-gap"])
        assert recipe.loss == "toy:mean-gap"
        loss = host.get_table().get("loss", "mean-gap")
        assert loss.d_loss(torch.tensor([1.0]), torch.tensor([3.0])).item() == 2.0
    finally:
        host.unregister_plugin(plugin, "toy")
    with pytest.raises(UnknownComponentError, match="unknown loss 'mean-gap'"):
        host.get_table().resolve("loss", "mean-gap")


def test_ambiguous_short_name_names_both_providers_and_full_names_work():
    def register_architectures(register):
        register("dcgan", generator=DCGANGenerator, discriminator=DCGANDiscriminator)

    plugin = make_plugin(register_architectures=register_architectures)
    host.register_plugin(plugin, "acme", distribution="ganzoo-acme")
    try:
        registry = host.get_table()
        with pytest.raises(AmbiguousNameError) as info:
            registry.resolve("architecture", "dcgan")
        message = str(info.value)
        assert "acme:dcgan (from ganzoo-acme)" in message
        assert "ganzoo:dcgan (from ganzoo)" in message
        assert registry.resolve("architecture", "acme:dcgan").plugin == "acme"
        assert registry.resolve("architecture", "ganzoo:dcgan").plugin == "ganzoo"
    finally:
        host.unregister_plugin(plugin, "acme")


def test_explicit_replacement_wins_the_short_name():
    def register_architectures(register):
        register("dcgan", generator=DCGANGenerator, discriminator=DCGANDiscriminator,
                 replaces="ganzoo:dcgan")

    plugin = make_plugin(register_architectures=register_architectures)
    host.register_plugin(plugin, "acme")
    try:
        assert host.get_table().resolve("architecture", "dcgan").full_name == "acme:dcgan"
    finally:
        host.unregister_plugin(plugin, "acme")


def _loss(**fields) -> dict:
    """A trivial loss's parts, for ``register(name, **_loss())``."""
    return dict(d_loss=lambda r, f: f.mean(), g_loss=lambda f, r: -f.mean(), **fields)


def _dcgan_recipe(**fields) -> dict:
    return {"generator": {"arch": "dcgan"}, "discriminator": {"arch": "dcgan"}, **fields}


def test_a_recipes_short_names_resolve_in_its_own_plugin_first():
    def register_architectures(register):
        register("dcgan", generator=DCGANGenerator, discriminator=DCGANDiscriminator)

    def register_losses(register):
        register("hinge", **_loss())

    def register_recipes(register):
        register("acme-tiny", _dcgan_recipe(loss="hinge"))

    plugin = make_plugin(register_architectures=register_architectures,
                         register_losses=register_losses, register_recipes=register_recipes)
    host.register_plugin(plugin, "acme")
    try:
        builtin = resolve_recipe("dcgan-hinge")  # registry.yaml: arch dcgan, loss hinge
        assert (builtin.generator_arch, builtin.discriminator_arch, builtin.loss) == (
            "ganzoo:dcgan", "ganzoo:dcgan", "ganzoo:hinge")
        own = resolve_recipe("acme-tiny")
        assert (own.generator_arch, own.discriminator_arch, own.loss) == (
            "acme:dcgan", "acme:dcgan", "acme:hinge")
        assert resolve_recipe("ganzoo:dcgan").loss == "ganzoo:bce-ns"
    finally:
        host.unregister_plugin(plugin, "acme")


@pytest.mark.parametrize("override", [
    "generator.arch=dcgan", "discriminator.arch=dcgan", "generator={arch: dcgan}", "loss=hinge"])
def test_a_short_name_the_user_writes_is_never_guessed(override):
    def register_architectures(register):
        register("dcgan", generator=DCGANGenerator, discriminator=DCGANDiscriminator)

    def register_losses(register):
        register("hinge", **_loss())

    plugin = make_plugin(register_architectures=register_architectures,
                         register_losses=register_losses)
    host.register_plugin(plugin, "acme", distribution="ganzoo-acme")
    try:
        with pytest.raises(AmbiguousNameError, match=r"^the (architecture|loss) name '(dcgan|"
                                                     r"hinge)' is provided by more than one "
                                                     r"plugin: acme:\2 \(from ganzoo-acme\)"):
            resolve_recipe("dcgan-hinge", [override])
    finally:
        host.unregister_plugin(plugin, "acme")


def test_companion_regularizers_resolve_in_the_losss_plugin_first():
    def register_losses(register):
        register("acme-wgan", **_loss(regularizers=["gp"]))

    def register_regularizers(register):
        register("gp", fn=lambda D, real, fake, labels: real.sum() * 0, weight=2.0)

    plugin = make_plugin(register_losses=register_losses,
                         register_regularizers=register_regularizers)
    host.register_plugin(plugin, "acme")
    try:
        ours = resolve_recipe("dcgan", ["loss=acme-wgan"]).regularizers
        assert [(r.name, r.weight) for r in ours] == [("acme:gp", 2.0)]
        builtin = resolve_recipe("dcgan-wgan-gp").regularizers  # ganzoo:wgan-gp brings gp
        assert [r.name for r in builtin] == ["ganzoo:gp"]
        with pytest.raises(AmbiguousNameError, match="the regularizer name 'gp'"):
            resolve_recipe("dcgan", ["regularizers=[gp]"])
    finally:
        host.unregister_plugin(plugin, "acme")


def test_an_ambiguity_inside_a_recipe_names_the_recipe():
    def register_recipes(register):
        register("uses-hinge", _dcgan_recipe(loss="hinge"))

    def register_losses(register):
        register("hinge", **_loss())

    recipes = make_plugin(register_recipes=register_recipes)
    losses = make_plugin(register_losses=register_losses)
    host.register_plugin(recipes, "acme")
    host.register_plugin(losses, "other", distribution="ganzoo-other")
    try:
        with pytest.raises(AmbiguousNameError, match=r"^recipe 'uses-hinge': loss: the loss name "
                                                     r"'hinge' is provided by more than one "
                                                     r"plugin: ganzoo:hinge \(from ganzoo\), "
                                                     r"other:hinge \(from ganzoo-other\)"):
            resolve_recipe("uses-hinge")
    finally:
        host.unregister_plugin(losses, "other")
        host.unregister_plugin(recipes, "acme")


def test_an_explicit_replacement_wins_over_the_recipes_own_plugin():
    def register_losses(register):
        register("bce-ns", **_loss(replaces="ganzoo:bce-ns"))

    plugin = make_plugin(register_losses=register_losses)
    host.register_plugin(plugin, "acme")
    try:
        assert resolve_recipe("dcgan").loss == "acme:bce-ns"  # registry.yaml says bce-ns
        assert resolve_recipe("ganzoo:dcgan", ["loss=ganzoo:bce-ns"]).loss == "ganzoo:bce-ns"
    finally:
        host.unregister_plugin(plugin, "acme")


@pytest.mark.parametrize(("recipe", "message"), [
    ({"generator": "oops", "discriminator": {"arch": "dcgan"}, "train": "fast"},
     "plugin 'acme' recipe 'bad': generator must be a mapping with 'arch'"),
    (_dcgan_recipe(train="fast"), "plugin 'acme' recipe 'bad': train must be a mapping"),
    (_dcgan_recipe(loss=3), "plugin 'acme' recipe 'bad': loss must be a name such as 'hinge', "
                            "got 3"),
    (_dcgan_recipe(trian={}), "has no key 'trian': did you mean 'train'"),
])
def test_a_malformed_recipe_is_rejected_when_registered(recipe, message):
    _assert_plugin_rejected_with_its_good_recipe(recipe, message)


@pytest.mark.parametrize(("recipe", "message"), [
    (_dcgan_recipe(generator={"arch": "dcgan", "ngf": "wide"}),
     "recipe 'bad': generator.ngf must be an integer, got 'wide'"),
    (_dcgan_recipe(loss={"name": "lsgan", "d": 1}),
     "recipe 'bad': loss 'ganzoo:lsgan' has no parameter 'd'"),
    (_dcgan_recipe(loss="nosuch"), "unknown loss 'nosuch'"),
])
def test_an_in_process_recipe_that_does_not_resolve_is_rejected(recipe, message):
    # an entry point's bad recipe is dropped alone (tests/test_plugin_ecosystem.py); an
    # in-process plugin is a test's, which wants the error itself
    _assert_plugin_rejected_with_its_good_recipe(recipe, message)


def _assert_plugin_rejected_with_its_good_recipe(recipe, message):
    """An in-process plugin registering a good recipe and ``recipe`` fails with ``message``
    and leaves neither recipe in the name table."""
    def register_recipes(register):
        register("good-one", _dcgan_recipe())
        register("bad", recipe)

    with pytest.raises(GanzooError, match=message):
        host.register_plugin(make_plugin(register_recipes=register_recipes), "acme")
    assert not {"good-one", "bad"} & set(host.get_table().names("recipe"))


@pytest.mark.parametrize(("kind_hook", "name", "replaces", "message"), [
    ("register_architectures", "dcgan", "ganzo:dcgan",
     r"architecture 'acme:dcgan' replaces 'ganzo:dcgan', which no installed plugin provides "
     r"\(did you mean 'ganzoo:dcgan'\?\); known architectures: .*ganzoo:dcgan, "),
    ("register_losses", "phantom", "ganzoo:phantom",
     r"loss 'acme:phantom' replaces 'ganzoo:phantom', which no installed plugin provides; "
     r"known losses: .*ganzoo:bce-ns, "),
])
def test_replacing_a_component_that_does_not_exist_is_rejected(kind_hook, name, replaces,
                                                               message):
    def hook(register):
        if kind_hook == "register_architectures":
            register(name, generator=DCGANGenerator, replaces=replaces)
        else:
            register(name, **_loss(replaces=replaces))

    with pytest.raises(GanzooError, match=message):
        host.register_plugin(make_plugin(**{kind_hook: hook}), "acme")
    assert "acme" not in {c.plugin for kind in ("architecture", "loss")
                          for c in host.get_table().components(kind)}


def test_misspelled_hook_is_rejected_with_a_suggestion():
    plugin = make_plugin(register_architecture=lambda register: None)
    with pytest.raises(GanzooError, match="did you mean 'register_architectures'"):
        host.register_plugin(plugin, "typo")
    assert "typo" not in [s.name for s in host.get_host().statuses]


def test_malformed_component_is_rejected_and_nothing_of_the_plugin_stays():
    def register_architectures(register):
        register("half", generator=DCGANGenerator)
        register("broken")  # neither generator nor discriminator

    plugin = make_plugin(register_architectures=register_architectures)
    with pytest.raises(GanzooError, match="neither a generator nor a discriminator"):
        host.register_plugin(plugin, "bad")
    assert "half" not in host.get_table().names("architecture")


def _write_dist(site, dist: str, module: str, source: str) -> None:
    """A real installed distribution: a module plus a dist-info with a ganzoo entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[ganzoo]\n{module.split('_')[-1]} = {module}\n")


def test_broken_entry_point_is_recorded_and_the_rest_loads(tmp_path):
    _write_dist(tmp_path, "ganzoo-broken", "ganzoo_broken", "import no_such_module_here\n")
    _write_dist(tmp_path, "ganzoo-good", "ganzoo_good", """
        import ganzoo
        import torch.nn.functional as F

        @ganzoo.hookimpl
        def register_losses(register):
            register("softplus-gap", d_loss=lambda r, f: F.softplus(f - r).mean(),
                     g_loss=lambda f, r: F.softplus(-f).mean(), description="a good plugin")
    """)
    env = plugins_env(tmp_path)
    proc = run_cli("plugins", "list", "--json", env=env)
    statuses = {s["name"]: s for s in json.loads(proc.stdout)}
    assert statuses["broken"]["status"] == "failed"
    assert "ModuleNotFoundError" in statuses["broken"]["error"]
    assert statuses["broken"]["distribution"] == "ganzoo-broken"
    assert statuses["good"]["status"] == "loaded"
    assert statuses["good"]["provides"] == ["good:softplus-gap"]
    assert "plugin 'broken'" in proc.stderr and "failed to load" in proc.stderr

    listing = run_cli("zoo", "list", "--losses", "--json", env=env)
    assert "good:softplus-gap" in [r["full_name"] for r in json.loads(listing.stdout)]

    off = run_cli("plugins", "list", "--json",
                  env={**env, "GANZOO_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert json.loads(off.stdout) == []
    disabled = run_cli("plugins", "list", "--json", env={**env, "GANZOO_DISABLE_PLUGINS": "good"})
    assert {s["name"]: s["status"] for s in json.loads(disabled.stdout)}["good"] == "disabled"

    raised = run_cli("plugins", "list", env={**env, "GANZOO_PLUGIN_ERRORS": "raise"}, check=False)
    assert raised.returncode != 0 and "Traceback" in raised.stderr


def test_a_replacement_is_checked_once_every_plugin_has_loaded(tmp_path):
    # 'alpha' loads before 'zeta', whose loss it replaces
    _write_dist(tmp_path, "ganzoo-zeta", "ganzoo_zeta", """
        import ganzoo

        @ganzoo.hookimpl
        def register_losses(register):
            register("gap", d_loss=lambda r, f: f.mean(), g_loss=lambda f, r: -f.mean())
    """)
    _write_dist(tmp_path, "ganzoo-alpha", "ganzoo_alpha", """
        import ganzoo

        @ganzoo.hookimpl
        def register_losses(register):
            register("gap", d_loss=lambda r, f: f.mean(), g_loss=lambda f, r: -f.mean(),
                     replaces="zeta:gap")
    """)
    env = plugins_env(tmp_path)
    both = {s["name"]: s for s in json.loads(run_cli("plugins", "list", "--json", env=env).stdout)}
    assert both["alpha"]["status"] == "loaded"
    assert both["alpha"]["replaces"] == {"loss alpha:gap": "zeta:gap"}
    # zeta turned off: nothing to replace this time, which is not alpha's mistake
    off = run_cli("plugins", "list", "--json", env={**env, "GANZOO_DISABLE_PLUGINS": "zeta"})
    assert {s["name"]: s["status"] for s in json.loads(off.stdout)}["alpha"] == "loaded"
    assert "failed" not in off.stderr


def test_zoo_list_marks_a_clashing_short_name_with_the_full_names():
    from typer.testing import CliRunner

    from ganzoo.cli import app

    def register_architectures(register):
        register("dcgan", generator=DCGANGenerator, discriminator=DCGANDiscriminator)

    plugin = make_plugin(register_architectures=register_architectures)
    host.register_plugin(plugin, "acme", distribution="ganzoo-acme")
    try:
        runner = CliRunner()
        shown = runner.invoke(app, ["zoo", "list", "dcgan", "--kind", "architectures"],
                              env={"COLUMNS": "120"})
        assert shown.exit_code == 0, shown.output
        assert "acme:dcgan *" in shown.output and "ganzoo:dcgan *" in shown.output
        assert "two plugins register this name: use the full name" in shown.output
        listed = json.loads(runner.invoke(app, ["zoo", "list", "*", "--kind", "architectures",
                                                "--json"]).output)
        clash = {r["full_name"]: r["clash"] for r in listed}
        assert clash["acme:dcgan"] and clash["ganzoo:dcgan"] and not clash["ganzoo:sngan"]
    finally:
        host.unregister_plugin(plugin, "acme")
