"""The weights plugins/ganzoo-weights-fmnist ships: every entry is intact (size, sha256), loads
from the package, samples and exports to an ONNX an app runs; each scores what its
entry records under the recorded protocol."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile

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


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["tag"])
def test_each_tag_scores_what_its_entry_records(shipped, entry, tmp_path):
    """The fp16 file, scored as its entry's protocol says (10,000 samples, seed 0, classes in
    turn), gives the recorded fd-fmnist of the float32 run within fp16 rounding."""
    table = host.get_table()
    path = resolve_generator(entry["tag"], table=table).path
    result = evaluate(path, table=table, metrics="fd", n=10000, cache=tmp_path,
                      data=load_data("fashion-mnist", 32, table=table))
    recorded = entry["scores"]["fd-fmnist"]
    assert result.scores["fd-fmnist"] == pytest.approx(recorded, rel=0.02)


# Run against the installed wheel only: prints what the host found and where the weights came
# from, and samples a tag.
INSTALLED_CHECK = """
import json, sys
import ganzoo
import ganzoo_weights_fmnist
from ganzoo.sampling import generate_images

status = next(s for s in ganzoo.get_host().statuses if s.name == "fmnist")
G, info = ganzoo.load_generator(sys.argv[1])
images = generate_images(G, 4, nz=info["generator_config"].nz, seed=0)
print(json.dumps({"status": status.status, "distribution": status.distribution,
                  "version": status.version, "module": ganzoo_weights_fmnist.__file__,
                  "weights": str(info["checkpoint"]), "tags": ganzoo.list_pretrained(),
                  "shape": list(images.shape), "finite": bool(images.isfinite().all())}))
"""


@pytest.mark.slow
def test_the_wheel_installs_and_serves_its_tags_from_the_installed_files(tmp_path):
    """pip builds the package's wheel (under 20 MB, the weights and catalog inside, the entry
    point declared), installs it non-editable, and ganzoo finds it through the entry point and
    samples a tag from the installed files."""
    wheels = tmp_path / "wheels"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
               "--disable-pip-version-check", "-w", str(wheels), str(PACKAGE)]
    if importlib.util.find_spec("hatchling"):
        command.append("--no-build-isolation")
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if proc.returncode and os.environ.get("GANZOO_NO_SKIP") != "1":
        pytest.skip(f"cannot build the weights wheel here: {proc.stderr.strip()[-300:]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = wheels.glob("ganzoo_weights_fmnist-*.whl")
    assert wheel.stat().st_size < 20 * 1024 * 1024
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        declared = archive.read(entry_points).decode()
    shipped = {f"ganzoo_weights_fmnist/{e['file']}" for e in ENTRIES}
    assert shipped | {"ganzoo_weights_fmnist/weights.json",
                      "ganzoo_weights_fmnist/__init__.py"} <= names
    assert "[ganzoo]\nfmnist = ganzoo_weights_fmnist" in declared

    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                           "--quiet", "--disable-pip-version-check", "--target", str(site),
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = {**os.environ, **plugins_env(site, GANZOO_CACHE_DIR=str(tmp_path / "cache"))}
    env.pop("GANZOO_WEIGHTS_DIR", None)
    proc = subprocess.run([sys.executable, "-c", INSTALLED_CHECK, "r3gan.fmnist"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.splitlines()[-1])
    installed = site / "ganzoo_weights_fmnist"
    assert (found["status"], found["distribution"], found["version"]) == (
        "loaded", "ganzoo-weights-fmnist", "0.1.0")
    assert found["module"] == str(installed / "__init__.py")
    assert found["weights"] == str(installed / "r3gan.fmnist.safetensors")
    assert {e["tag"] for e in ENTRIES} == {t.split(":")[-1] for t in found["tags"]}
    assert found["shape"] == [4, 1, 32, 32] and found["finite"]
    assert not (tmp_path / "cache" / "weights").exists(), "the installed file is used in place"
