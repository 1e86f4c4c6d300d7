"""A plugin author's whole journey, with real installed packages and the real CLI.

The fixture plugins under ``tests/plugins/`` and a package made by ``ganzoo plugins new`` are
installed with pip into a temporary ``--target`` folder, and ``ganzoo`` runs in subprocesses
with that folder on ``PYTHONPATH``. Why ``--target`` rather than installing into the test
environment: that environment is shared (other test runs use it at the same time), and a
plugin left behind by an interrupted run would change every later ganzoo command. A
``--target`` folder holds exactly what ``pip install`` produces (the package plus its
``.dist-info`` with the ``ganzoo`` entry point, found through ``importlib.metadata`` on
``sys.path``) and vanishes with the test. ``--no-build-isolation --no-index`` builds with the
setuptools already installed, so nothing is downloaded; ``--no-deps`` because ganzoo itself
comes from this checkout. The packages are installed once per module: pip is the slow part.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import ganzoo
from ganzoo import hookspecs, host
from ganzoo.errors import GanzooError, PluginAPIError
from ganzoo.host import api as plugin_api
from ganzoo.scaffold import new_plugin, plugin_names
from tests.conftest import ROOT, plugins_env, read_metrics, run_cli
from tests.helpers.install import pip_install

FIXTURES = Path(__file__).resolve().parent / "plugins"
FIXTURE_PACKAGES = ("ganzoo-fixture-good", "ganzoo-fixture-broken", "ganzoo-fixture-clash")
DOCS = ROOT / "docs"
SWITCHES = ("GANZOO_DISABLE_PLUGINS", "GANZOO_DISABLE_PLUGIN_AUTOLOAD", "GANZOO_PLUGINS",
            "GANZOO_PLUGIN_ERRORS")

# entry point of ganzoo-fixture-broken -> what its one-line reason must say
BROKEN = {
    "import-error": "ModuleNotFoundError: No module named 'ganzoo_fixture_missing_dependency'",
    "misspelled-hook": "'register_architecture' is not a ganzoo hook (did you mean "
                       "'register_architectures'?)",
    "wrong-argument": "hook 'register_losses' takes 'reg', but ganzoo calls it as "
                      "register_losses(register)",
    "hook-raises": "register_datasets raised RuntimeError: the dataset server is down",
    "malformed-component": "architecture 'malformed-bad': the generator class needs a "
                           "'config_class' dataclass",
    "api-too-new": "needs plugin API 2..3, this ganzoo (0.1.0) provides 1; upgrade ganzoo, or "
                   "pin ganzoo-fixture-broken<0.1.0",
    "command-clash": "adds the command(s) train that the ganzoo command line already has",
    "no-hooks": "implements no ganzoo hook: mark register_losses with @ganzoo.hookimpl",
    "replaces-missing": "loss 'replaces-missing:phantom' replaces 'ganzoo:phantom', which no "
                        "installed plugin provides; known losses: ",
}
# names the broken plugins registered before failing: none may survive
BROKEN_LEFTOVERS = ("malformed-ok", "raises-first", "from-the-future", "never", "unmarked",
                    "phantom")
# the malformed-recipe plugin's bad recipes, dropped one by one (the plugin and its
# recipe-ok load): full name -> what the reason must say
DROPPED = {
    "malformed-recipe:recipe-bad": "plugin 'malformed-recipe' recipe 'recipe-bad': generator "
                                   "must be a mapping with 'arch' naming an architecture",
    "malformed-recipe:recipe-bad-train": "plugin 'malformed-recipe' recipe 'recipe-bad-train': "
                                         "train.batch must be an integer, got 'many'",
    "malformed-recipe:recipe-bad-generator": "recipe 'recipe-bad-generator': generator.ngf "
                                             "must be an integer, got 'wide'",
    "malformed-recipe:recipe-bad-loss": "recipe 'recipe-bad-loss': loss 'ganzoo:lsgan' has no "
                                        "parameter 'd'",
}
# a 1-step run small enough for a test, on the good plugin's 16 synthetic images
TINY_RUN = ("--data", "good-stripes", "--steps", "1", "--batch", "4", "--quiet",
            "--set", "train.resolution=16", "--set", "generator.ngf=4",
            "--set", "discriminator.ndf=4")


def env_for(site: Path, **switches: str) -> dict[str, str]:
    """Subprocess environment seeing the plugins installed in ``site`` (and loading those
    only) and this checkout's ganzoo, with every other plugin switch off unless given."""
    path = [str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**dict.fromkeys(SWITCHES, ""), **plugins_env(site),
            "PYTHONPATH": os.pathsep.join(p for p in path if p), **switches}


def statuses(proc: subprocess.CompletedProcess) -> dict[str, dict]:
    return {s["name"]: s for s in json.loads(proc.stdout)}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    pip_install([FIXTURES / name for name in FIXTURE_PACKAGES], target,
                tmp_path_factory.mktemp("build"))
    return target


@pytest.fixture(scope="module")
def env(site) -> dict[str, str]:
    return env_for(site)


@pytest.fixture(scope="module")
def listing(env) -> tuple[dict[str, dict], str]:
    proc = run_cli("plugins", "list", "--json", env=env)
    return statuses(proc), proc.stderr


@pytest.fixture(scope="module")
def good_run(env, tmp_path_factory) -> tuple[Path, dict]:
    """One training run of the good plugin's recipe, which uses every component it provides
    (with the broken plugins installed alongside)."""
    run = tmp_path_factory.mktemp("good") / "run"
    run_cli("train", "--arch", "good-tiny", "--out", str(run), "--quiet", env=env)
    return run, json.loads((run / "config.json").read_text())


# -- listing ---------------------------------------------------------------------------------


def test_plugins_list_json_shows_distribution_version_status_hooks_and_names(listing):
    found, _ = listing
    good = found["good"]
    assert (good["distribution"], good["version"], good["status"]) == (
        "ganzoo-fixture-good", "0.2.0", "loaded")
    assert good["plugin_api"] == "1..3"
    assert good["hooks"] == sorted(h for h in dir(hookspecs) if h.startswith("register_"))
    assert good["provides_by_kind"] == {
        "architecture": ["good:good-gan"], "loss": ["good:good-loss"],
        "regularizer": ["good:good-penalty"], "dataset": ["good:good-stripes"],
        "recipe": ["good:good-tiny"], "feature_extractor": ["good:good-pixels"],
        "weights": ["good:good-tiny.stripes"]}
    assert sorted(good["provides"]) == sorted(
        n for names in good["provides_by_kind"].values() for n in names)
    assert good["commands"] == ["good-hello"]
    assert "ganzoo" not in found, "the built-in plugin is listed only with --all"


@pytest.mark.parametrize("entry_point", sorted(BROKEN))
def test_each_broken_plugin_is_listed_as_failed_with_its_reason(listing, entry_point):
    found, stderr = listing
    status = found[entry_point]
    assert status["status"] == "failed"
    assert status["distribution"] == "ganzoo-fixture-broken"
    assert BROKEN[entry_point] in status["error"]
    assert "\n" not in status["error"]
    assert status["provides"] == [] and status["commands"] == []
    assert "Traceback" in status["traceback"]
    line = next(x for x in stderr.splitlines() if f"plugin '{entry_point}'" in x)
    assert "failed to load and was skipped" in line and BROKEN[entry_point] in line


def test_a_plugin_with_bad_recipes_keeps_its_good_ones(listing, env):
    found, stderr = listing
    status = found["malformed-recipe"]
    assert (status["status"], status["error"]) == ("loaded", "")
    assert status["provides_by_kind"] == {"recipe": ["malformed-recipe:recipe-ok"]}
    assert set(status["dropped"]) == set(DROPPED)
    for full_name, reason in DROPPED.items():
        assert reason in status["dropped"][full_name]
        line = next(x for x in stderr.splitlines() if f"recipe '{full_name}' was dropped" in x)
        assert line.startswith("ganzoo: plugin 'malformed-recipe' (ganzoo-fixture-broken 0.1.0)")
        assert reason in line
    out = run_cli("plugins", "list", env=env).stdout
    assert re.search(r"dropped +recipe malformed-recipe:recipe-bad-train: .*train\.batch must "
                     r"be an integer", out)
    names = {r["full_name"] for r in json.loads(
        run_cli("zoo", "list", "*", "--json", env=env).stdout)}
    assert "malformed-recipe:recipe-ok" in names and not names & set(DROPPED)
    # asking for a dropped recipe repeats why, instead of "unknown arch"
    proc = run_cli("train", "--arch", "recipe-bad-generator", check=False, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "error: recipe 'malformed-recipe:recipe-bad-generator' was dropped when its plugin "
        "loaded: recipe 'recipe-bad-generator': generator.ngf must be an integer, got 'wide'")


def test_broken_plugins_leave_nothing_behind_and_the_rest_works(env):
    rows = json.loads(run_cli("zoo", "list", "*", "--kind", "all", "--json", env=env).stdout)
    names = {r["name"] for r in rows}
    assert not names & set(BROKEN_LEFTOVERS)
    assert {"good-gan", "good-loss", "good-penalty", "good-stripes", "good-tiny",
            "dcgan"} <= names


def test_plugins_list_human_output_with_builtins(env):
    out = run_cli("plugins", "list", "--all", env=env).stdout
    assert f"ganzoo  ganzoo {ganzoo.__version__}  loaded" in out
    assert "good  ganzoo-fixture-good 0.2.0  loaded" in out
    assert "api-too-new  ganzoo-fixture-broken 0.1.0  failed" in out
    assert re.search(r"reason +needs plugin API 2\.\.3", out)
    assert re.search(r"architectures +good:good-gan", out)
    assert re.search(r"commands +ganzoo good-hello", out)
    assert "override:bce-ns (replaces ganzoo:bce-ns)" in out
    assert "architecture dcgan: also clash:dcgan (use full names)" in out


def test_plugin_errors_raise_shows_the_full_traceback(site):
    # (tests/test_plugins.py covers an import error; this is an exception inside a hook)
    others = ",".join(sorted(set(BROKEN) - {"hook-raises"} | {"malformed-recipe"}))
    proc = run_cli("zoo", "list", check=False, env=env_for(
        site, GANZOO_PLUGIN_ERRORS="raise", GANZOO_DISABLE_PLUGINS=others))
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "RuntimeError: the dataset server is down" in proc.stderr
    assert 'ganzoo_fixture_broken/hook_raises.py", line 13, in register_datasets' in proc.stderr
    assert "PluginLoadError: plugin 'hook-raises' (ganzoo-fixture-broken 0.1.0)" in proc.stderr


def test_disable_switches(site):
    # distribution names are matched normalised: Ganzoo_Fixture_Broken == ganzoo-fixture-broken
    some = run_cli("plugins", "list", "--json", env=env_for(
        site, GANZOO_DISABLE_PLUGINS="Ganzoo_Fixture_Broken, clash"))
    found = statuses(some)
    assert {found[n]["status"] for n in BROKEN} == {"disabled"}
    assert found["clash"]["status"] == "disabled"
    assert found["good"]["status"] == found["override"]["status"] == "loaded"
    assert "failed to load" not in some.stderr

    none = run_cli("plugins", "list", "--all", "--json",
                   env=env_for(site, GANZOO_DISABLE_PLUGIN_AUTOLOAD="1"))
    assert list(statuses(none)) == ["ganzoo"] and none.stderr == ""


def test_plugins_list_says_when_autoloading_is_off(site):
    out = run_cli("plugins", "list", env=env_for(site, GANZOO_DISABLE_PLUGIN_AUTOLOAD="1")).stdout
    assert out.strip() == ("plugin autoloading is off (GANZOO_DISABLE_PLUGIN_AUTOLOAD is set): "
                           "installed plugins were not loaded; unset the variable to load them "
                           "again")


# -- clash policy ----------------------------------------------------------------------------


def test_short_name_clash_is_an_error_naming_both_packages_and_full_names(env):
    # a short name the user writes is never guessed; the recipe's own 'dcgan' is (see below)
    proc = run_cli("train", "--arch", "dcgan", "--set", "generator.arch=dcgan", "--quiet",
                   check=False, env=env)
    assert proc.returncode == 2
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("error: the architecture name 'dcgan' is provided by more than one")
    assert "clash:dcgan (from ganzoo-fixture-clash)" in error
    assert "ganzoo:dcgan (from ganzoo)" in error
    assert "GANZOO_DISABLE_PLUGINS=clash" in error


@pytest.mark.parametrize(("arch", "loss"), [
    ("dcgan", "override:bce-ns"), ("ganzoo:dcgan-hinge", {"name": "ganzoo:hinge", "margin": 1.0})])
def test_builtin_recipes_keep_their_short_names_when_a_plugin_clashes(env, tmp_path, arch, loss):
    # registry.yaml says 'arch: dcgan': read in the recipe's own plugin, ganzoo, it is not
    # ambiguous with clash:dcgan; override's explicit replaces= still takes over 'bce-ns'
    run = tmp_path / "run"
    run_cli("train", "--arch", arch, *TINY_RUN, "--out", str(run), env=env)
    recipe = json.loads((run / "config.json").read_text())["recipe"]
    assert recipe["generator"]["arch"] == recipe["discriminator"]["arch"] == "ganzoo:dcgan"
    assert recipe["loss"] == loss


def test_full_names_always_work_and_an_explicit_replacement_wins(env, listing, tmp_path):
    run = tmp_path / "run"
    run_cli("train", "--arch", "ganzoo:dcgan", *TINY_RUN, "--set", "discriminator.arch=clash:dcgan",
            "--out", str(run), env=env)
    recipe = json.loads((run / "config.json").read_text())["recipe"]
    assert recipe["generator"]["arch"] == "ganzoo:dcgan"
    assert recipe["discriminator"]["arch"] == "clash:dcgan"
    assert recipe["loss"] == "override:bce-ns"  # the recipe says 'bce-ns'
    found, _ = listing
    assert found["override"]["replaces"] == {"loss override:bce-ns": "ganzoo:bce-ns"}
    assert found["clash"]["clashes"] == ["architecture dcgan: also ganzoo:dcgan (use full names)"]


# -- every hook, through an installed plugin ---------------------------------------------------


def test_register_architectures_from_an_installed_plugin(good_run):
    run, config = good_run
    assert config["recipe"]["generator"]["arch"] == "good:good-gan"
    assert config["recipe"]["discriminator"]["arch"] == "good:good-gan"
    assert sorted((run / "checkpoints").glob("*.safetensors"))
    assert sorted((run / "samples").glob("*.png"))


def test_register_losses_from_an_installed_plugin(good_run):
    assert good_run[1]["recipe"]["loss"] == "good:good-loss"


def test_register_regularizers_from_an_installed_plugin(good_run):
    run, config = good_run
    assert [r["name"] for r in config["recipe"]["regularizers"]] == ["good:good-penalty"]
    metrics = read_metrics(run)
    assert len(metrics) == 2
    assert all(m["d_loss"] > 1000.0 for m in metrics)  # the constant penalty was added


def test_register_datasets_from_an_installed_plugin(good_run):
    data = good_run[1]["data"]
    assert data["spec"] == "good-stripes"
    assert (data["source"], data["count"], data["channels"]) == ("good-stripes (synthetic)",
                                                                 16, 1)


def test_register_feature_extractors_from_an_installed_plugin(good_run, env, tmp_path):
    run, _ = good_run
    proc = run_cli("eval", str(run), "--extractor", "good-pixels", "--metrics", "fd", "-n", "16",
                   "--json", env={**env, "GANZOO_CACHE_DIR": str(tmp_path)})
    record = json.loads(proc.stdout)
    assert set(record["eval"]) == {"fd-good-pixels"} and record["eval"]["fd-good-pixels"] >= 0
    assert record["protocol"]["extractor"] == "good:good-pixels"
    assert record["protocol"]["resize"].endswith("average-pooled to 4x4")


def test_register_recipes_from_an_installed_plugin(good_run):
    recipe = good_run[1]["recipe"]
    assert recipe["name"] == "good-tiny"
    assert (recipe["train"]["resolution"], recipe["train"]["steps"]) == (8, 2)


def test_register_weights_from_an_installed_plugin(env, tmp_path):
    """A tag shipped as package data: listed with its score, sampled, scored against its
    dataset by default, all without a run folder; the cache stays empty (a package file is
    used in place)."""
    env = {**env, "GANZOO_CACHE_DIR": str(tmp_path / "cache")}
    rows = json.loads(run_cli("zoo", "list", "--pretrained", "--json", env=env).stdout)
    row = next(r for r in rows if r["name"] == "good-tiny.stripes")
    assert (row["scores"], row["dataset"], row["size"]) == (
        {"fd-good-pixels": 1.5}, "good-stripes", 3000)
    proc = run_cli("sample", "good-tiny.stripes", "-n", "4", "-o", str(tmp_path / "g.png"),
                   env=env)
    assert "step 0" in proc.stdout and (tmp_path / "g.png").is_file()
    scored = json.loads(run_cli("eval", "good-tiny.stripes", "--metrics", "fd", "-n", "16",
                                "--extractor", "good-pixels", "--json", env=env).stdout)
    assert scored["protocol"]["reference"]["source"] == "good-stripes (synthetic)"
    assert not (tmp_path / "cache" / "weights").exists()


def test_register_commands_from_an_installed_plugin(env, listing):
    hello = run_cli("good-hello", "--name", "Ada", env=env)
    assert hello.stdout.strip() == "hello Ada from ganzoo-fixture-good"
    # command-clash tried to add a second 'train': it failed and added nothing (the real
    # 'train' still takes --arch: see the clash test, which reaches the name-resolution error)
    assert listing[0]["command-clash"]["status"] == "failed"


# -- plugin API versions -----------------------------------------------------------------------


def _api_plugin(declared: object) -> types.SimpleNamespace:
    def register_losses(register):
        register("api-probe", d_loss=lambda r, f: f.mean(), g_loss=lambda f, r: -f.mean())

    return types.SimpleNamespace(GANZOO_PLUGIN_API=declared,
                                 register_losses=ganzoo.hookimpl(register_losses))


@pytest.mark.parametrize(("declared", "shown"), [
    (1, "1"), ((1, 1), "1"), ([1, 2], "1..2"), ("1", "1"), (" 1 .. 4 ", "1..4")])
def test_plugin_api_ranges_that_include_this_ganzoo_load(declared, shown):
    plugin = _api_plugin(declared)
    try:
        assert host.register_plugin(plugin, "api").plugin_api == shown
    finally:
        host.unregister_plugin(plugin, "api")


@pytest.mark.parametrize("declared", [0, True, 1.0, (2, 1), (1,), "1-2", ">=1", "one"])
def test_malformed_plugin_api_declaration_says_how_to_write_it(declared):
    with pytest.raises(PluginAPIError, match=r"write the supported plugin API versions"):
        host.register_plugin(_api_plugin(declared), "api")


def test_plugin_written_for_an_older_api_is_told_to_upgrade(monkeypatch):
    monkeypatch.setattr(plugin_api, "PLUGIN_API", 3)  # as a future ganzoo would provide
    with pytest.raises(PluginAPIError, match=r"needs plugin API 1\.\.2, this ganzoo .* provides "
                                             r"3; upgrade \(in-process\) to a release for plugin "
                                             r"API 3, or use an older ganzoo"):
        host.register_plugin(_api_plugin((1, 2)), "api")


# -- ganzoo plugins new ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """``ganzoo plugins new acme``, installed like any plugin."""
    parent = tmp_path_factory.mktemp("author")
    out = run_cli("plugins", "new", "acme", "--dir", str(parent)).stdout
    package = parent / "ganzoo-acme"
    assert f"wrote {package}" in out and f"pip install -e {package}" in out
    target = tmp_path_factory.mktemp("acme-site")
    pip_install([package], target, tmp_path_factory.mktemp("acme-build"))
    return package, env_for(target)


def test_new_plugin_package_has_the_expected_files(scaffold):
    package, _ = scaffold
    files = sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file())
    assert files == ["README.md", "pyproject.toml", "src/ganzoo_acme/__init__.py",
                     "src/ganzoo_acme/registry.yaml", "tests/test_acme.py"]
    pyproject = (package / "pyproject.toml").read_text()
    assert '[project.entry-points.ganzoo]\nacme = "ganzoo_acme"' in pyproject
    # the recipes file goes into the wheel: a non-editable install needs it
    assert '[tool.setuptools.package-data]\nganzoo_acme = ["registry.yaml"]' in pyproject
    assert "$" not in "".join(p.read_text() for p in package.rglob("*") if p.is_file())


def test_new_plugin_is_listed_after_install(scaffold):
    # other plugins may be installed in the test environment (ganzoo-timm, as the README
    # suggests): look at acme alone
    found = statuses(run_cli("plugins", "list", "--json", env=scaffold[1]))
    acme = found["acme"]
    assert (acme["distribution"], acme["version"], acme["status"]) == (
        "ganzoo-acme", "0.1.0", "loaded")
    assert acme["hooks"] == ["register_architectures", "register_recipes"]
    # installed from a wheel (not editable): the recipe comes from the packaged registry.yaml
    assert acme["provides_by_kind"] == {"architecture": ["acme:acme-gan"],
                                        "recipe": ["acme:acme-gan-32"]}
    assert acme["dropped"] == {}
    assert acme["plugin_api"] == str(ganzoo.PLUGIN_API)


def test_zoo_list_wildcard_finds_the_new_plugin(scaffold):
    rows = json.loads(run_cli("zoo", "list", "*acme*", "--kind", "all", "--json",
                              env=scaffold[1]).stdout)
    assert sorted((r["kind"], r["full_name"]) for r in rows) == [
        ("architecture", "acme:acme-gan"), ("recipe", "acme:acme-gan-32")]


def test_new_plugin_recipe_trains_through_the_cli(scaffold, tmp_path):
    run = tmp_path / "run"
    run_cli("train", "--arch", "acme-gan-32", "--steps", "2", "--batch", "8",
            "--set", "generator.width=8", "--set", "discriminator.width=8",
            "--out", str(run), "--quiet", env=scaffold[1])
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"]["generator"]["arch"] == "acme:acme-gan"
    assert config["data"]["spec"] == "fashion-mnist"
    assert sorted((run / "checkpoints").glob("*.safetensors"))


def test_new_plugin_passes_its_own_tests(scaffold):
    package, env = scaffold
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=package, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout  # the last one builds the wheel and finds registry.yaml


@pytest.mark.parametrize("name", [
    "../evil", "..", "a/b", "a\\b", "/tmp/abs", "~user", "", "  ", "9lives", "-acme", "acme;rm",
    "ac me", "acmé", "ganzoo", "GANZOO", "x" * 41])
def test_plugins_new_rejects_invalid_or_unsafe_names(name, tmp_path):
    with pytest.raises(GanzooError, match=r"plugin name"):
        new_plugin(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_plugins_new_cli_reports_a_bad_name_as_one_line(tmp_path):
    proc = run_cli("plugins", "new", "../evil", "--dir", str(tmp_path), check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: invalid plugin name '../evil'")
    assert list(tmp_path.iterdir()) == []


def test_plugins_new_refuses_to_overwrite(tmp_path):
    package = new_plugin("acme", tmp_path)
    (package / "mine.txt").write_text("keep me")
    with pytest.raises(GanzooError, match=r"ganzoo-acme already exists.*nothing was overwritten"):
        new_plugin("Acme", tmp_path)
    assert (package / "mine.txt").read_text() == "keep me"
    # --dir is the parent folder, created when missing
    assert new_plugin("acme", tmp_path / "new" / "parent") == (
        tmp_path / "new" / "parent" / "ganzoo-acme")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(GanzooError, match=r"--dir .*a-file is a file; --dir names the folder "
                       r"that gets ganzoo-acme/"):
        new_plugin("acme", tmp_path / "a-file")


def test_plugin_names_are_normalised():
    names = plugin_names("My_Cool--GAN")
    assert (names["name"], names["dist"], names["module"], names["Class"]) == (
        "my-cool-gan", "ganzoo-my-cool-gan", "ganzoo_my_cool_gan", "MyCoolGan")
    assert plugin_names("ganzoo-acme")["name"] == "acme"


# -- docs --------------------------------------------------------------------------------------


def _hooks() -> list[str]:
    """Every hook spec, found by pluggy's marker so a new hook is checked without edits here."""
    return sorted(name for name, value in vars(hookspecs).items()
                  if callable(value) and hasattr(value, "ganzoo_spec"))


def test_hookspecs_are_found():
    assert {"register_architectures", "register_commands"} <= set(_hooks())


@pytest.mark.parametrize("hook", _hooks())
def test_plugin_hooks_are_documented(hook):
    spec = getattr(hookspecs, hook)
    doc = spec.__doc__ or ""
    for argument in inspect.signature(spec).parameters:
        assert f":param {argument}:" in doc, f"{hook}: document ':param {argument}:'"
    assert "Example::" in doc, f"{hook}: add an 'Example::' block to its docstring"
    text = (DOCS / "hooks.md").read_text(encoding="utf-8")
    assert f"\n### {hook}\n" in text, (
        f"{hook} is missing from docs/hooks.md: run python docs/gen_hooks.py")


def test_hooks_reference_is_up_to_date():
    spec = importlib.util.spec_from_file_location("gen_hooks", DOCS / "gen_hooks.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (DOCS / "hooks.md").read_text(encoding="utf-8") == gen.render(), (
        "docs/hooks.md differs from ganzoo/hookspecs.py: run python docs/gen_hooks.py")


def test_config_reference_is_up_to_date():
    """docs/config.md lists every train key and every inherited model field, with type,
    default and the description from its #: comment in ganzoo/config.py."""
    spec = importlib.util.spec_from_file_location("gen_config", DOCS / "gen_config.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = (DOCS / "config.md").read_text(encoding="utf-8")
    assert text == gen.render(), (
        "docs/config.md differs from ganzoo/config.py: run python docs/gen_config.py")
    from ganzoo.config import TrainConfig

    for f in dataclasses.fields(TrainConfig):
        assert f"| `train.{f.name}` |" in text
    assert "| `generator.nz` | int | `100` |" in text


def _test_function_names() -> set[str]:
    names = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        if FIXTURES in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return names


@pytest.mark.parametrize("hook", _hooks())
def test_plugin_hooks_have_tests(hook):
    assert any(hook in name for name in _test_function_names()), (
        f"no test exercises {hook}: add one whose function name contains '{hook}', e.g. "
        f"test_{hook}_from_an_installed_plugin")


@pytest.mark.parametrize("switch", SWITCHES)
def test_plugin_switches_are_documented(switch):
    assert switch in (ROOT / "ganzoo" / "host" / "loader.py").read_text(encoding="utf-8")
    assert switch in (DOCS / "writing-a-plugin.md").read_text(encoding="utf-8")


def test_every_switch_read_in_plugins_is_in_the_test_list():
    source = (ROOT / "ganzoo" / "host" / "loader.py").read_text(encoding="utf-8")
    read = re.findall(r'(?:environ\.get|_env_flag|_names)\(\s*"(GANZOO_[A-Z_]+)"', source)
    assert set(read) == set(SWITCHES)
