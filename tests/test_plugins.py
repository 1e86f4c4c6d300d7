"""The plugin manager: in-process plugins, real entry points, clashes, bad hooks."""

from __future__ import annotations

import json
import textwrap
import types

import pytest
import torch

import ganzoo
from ganzoo import plugins
from ganzoo.config import resolve_recipe
from ganzoo.errors import AmbiguousNameError, GanzooError, UnknownComponentError
from ganzoo.zoo.dcgan import DCGANDiscriminator, DCGANGenerator
from tests.conftest import run_cli


def make_plugin(**hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: ganzoo.hookimpl(fn) for name, fn in hooks.items()})


def test_builtins_are_registered_through_the_hooks():
    host = plugins.get_host()
    builtin = host.statuses[0]
    assert builtin.builtin and builtin.name == "ganzoo"
    assert "register_architectures" in builtin.hooks
    assert "ganzoo:dcgan" in builtin.provides
    assert host.registry.resolve("architecture", "dcgan").full_name == "ganzoo:dcgan"


def test_in_process_plugin_adds_a_usable_loss_then_leaves():
    def register_losses(register):
        register("mean-gap", d_loss=lambda r, f: f.mean() - r.mean(),
                 g_loss=lambda f, r: -f.mean(), description="toy")

    plugin = make_plugin(register_losses=register_losses)
    plugins.register_plugin(plugin, "toy")
    try:
        recipe = resolve_recipe("dcgan", ["loss=mean-gap"])
        assert recipe.loss == "toy:mean-gap"
        loss = plugins.get_registry().get("loss", "mean-gap")
        assert loss.d_loss(torch.tensor([1.0]), torch.tensor([3.0])).item() == 2.0
    finally:
        plugins.unregister_plugin(plugin, "toy")
    with pytest.raises(UnknownComponentError, match="unknown loss 'mean-gap'"):
        plugins.get_registry().resolve("loss", "mean-gap")


def test_ambiguous_short_name_names_both_providers_and_full_names_work():
    def register_architectures(register):
        register("dcgan", generator=DCGANGenerator, discriminator=DCGANDiscriminator)

    plugin = make_plugin(register_architectures=register_architectures)
    plugins.register_plugin(plugin, "acme", distribution="ganzoo-acme")
    try:
        registry = plugins.get_registry()
        with pytest.raises(AmbiguousNameError) as info:
            registry.resolve("architecture", "dcgan")
        message = str(info.value)
        assert "acme:dcgan (from ganzoo-acme)" in message
        assert "ganzoo:dcgan (from ganzoo)" in message
        assert registry.resolve("architecture", "acme:dcgan").plugin == "acme"
        assert registry.resolve("architecture", "ganzoo:dcgan").plugin == "ganzoo"
    finally:
        plugins.unregister_plugin(plugin, "acme")


def test_explicit_replacement_wins_the_short_name():
    def register_architectures(register):
        register("dcgan", generator=DCGANGenerator, discriminator=DCGANDiscriminator,
                 replaces="ganzoo:dcgan")

    plugin = make_plugin(register_architectures=register_architectures)
    plugins.register_plugin(plugin, "acme")
    try:
        assert plugins.get_registry().resolve("architecture", "dcgan").full_name == "acme:dcgan"
    finally:
        plugins.unregister_plugin(plugin, "acme")


def test_misspelled_hook_is_rejected_with_a_suggestion():
    plugin = make_plugin(register_architecture=lambda register: None)
    with pytest.raises(GanzooError, match="did you mean 'register_architectures'"):
        plugins.register_plugin(plugin, "typo")
    assert "typo" not in [s.name for s in plugins.get_host().statuses]


def test_malformed_component_is_rejected_and_nothing_of_the_plugin_stays():
    def register_architectures(register):
        register("half", generator=DCGANGenerator)
        register("broken")  # neither generator nor discriminator

    plugin = make_plugin(register_architectures=register_architectures)
    with pytest.raises(GanzooError, match="neither a generator nor a discriminator"):
        plugins.register_plugin(plugin, "bad")
    assert "half" not in plugins.get_registry().names("architecture")


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
    env = {"PYTHONPATH": str(tmp_path)}
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
