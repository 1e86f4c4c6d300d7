"""The weights plugins/ganzoo-weights-fmnist ships: every entry is intact (size, sha256), loads
from the package, samples and exports to an ONNX an app runs; dcgan.fmnist scores what its
entry records under the recorded protocol."""

from __future__ import annotations

import importlib
import json
import shutil
import sys

import pytest

import ganzoo
from ganzoo import host
from ganzoo.data import load_data
from ganzoo.metrics.scoring import evaluate
from ganzoo.weights import resolve_generator
from tests.conftest import ROOT, plugins_env, run_cli

PACKAGE = ROOT / "plugins" / "ganzoo-weights-fmnist"
CATALOG = PACKAGE / "ganzoo_weights_fmnist" / "weights.json"
ENTRIES = json.loads(CATALOG.read_text(encoding="utf-8"))["weights"] if CATALOG.is_file() else []


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The package laid out as pip installs it: its module and a dist-info with the entry
    point, so the CLI finds it the way a user's does."""
    target = tmp_path_factory.mktemp("site")
    shutil.copytree(PACKAGE / "ganzoo_weights_fmnist", target / "ganzoo_weights_fmnist")
    info = target / "ganzoo_weights_fmnist-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ganzoo-weights-fmnist\n"
                                   "Version: 0.1.0\n")
    (info / "entry_points.txt").write_text("[ganzoo]\nfmnist = ganzoo_weights_fmnist\n")
    return target


@pytest.fixture
def shipped(monkeypatch):
    """The package registered in-process from its source folder, as its entry point would."""
    monkeypatch.syspath_prepend(str(PACKAGE))
    module = importlib.import_module("ganzoo_weights_fmnist")
    host.reset()
    host.register_plugin(module, "fmnist", "ganzoo-weights-fmnist")
    yield
    host.unregister_plugin(module, "fmnist")
    sys.modules.pop("ganzoo_weights_fmnist", None)
    host.reset()


def test_the_package_ships_weights_for_the_recipes_the_quality_table_picks():
    tags = {e["tag"] for e in ENTRIES}
    assert {"dcgan.fmnist", "r3gan.fmnist", "r3gan-cond.fmnist"} <= tags
    size = sum(p.stat().st_size for p in PACKAGE.rglob("*") if p.is_file())
    assert size < 20 * 1024 * 1024


@pytest.mark.parametrize("tag", [e["tag"] for e in ENTRIES])
def test_each_entry_loads_from_the_package_and_samples(shipped, site, tag, tmp_path):
    G, info = ganzoo.load_generator(tag)
    assert info["arch"].startswith("ganzoo:")
    run_cli("sample", tag, "-n", "16", "-o", str(tmp_path / "grid.png"),
            env=plugins_env(site, GANZOO_CACHE_DIR=str(tmp_path / "cache")))
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_r3gan_fmnist_exports_to_an_onnx_an_app_runs(site, tmp_path):
    env = plugins_env(site, GANZOO_CACHE_DIR=str(tmp_path / "cache"))
    run_cli("export", "r3gan.fmnist", "-o", str(tmp_path / "out"), env=env)
    from ganzoo.runtime import Generator

    images = Generator(tmp_path / "out" / "generator.onnx").generate(4, seed=0)
    assert images.shape[0] == 4


def test_dcgan_fmnist_scores_what_its_entry_records(shipped, tmp_path):
    entry = next(e for e in ENTRIES if e["tag"] == "dcgan.fmnist")
    table = host.get_table()
    path = resolve_generator("dcgan.fmnist", table=table).path
    result = evaluate(path, table=table, metrics="fd", n=10000, cache=tmp_path,
                      data=load_data("fashion-mnist", 32, table=table))
    recorded = entry["scores"]["fd-fmnist"]
    assert result.scores["fd-fmnist"] == pytest.approx(recorded, rel=0.02)
