"""Pretrained weights: entries as data, verified fetching (a real local HTTP server), tags
wherever a run folder goes, --init fine-tuning, hub folders, and the packaging script."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import ganzoo
from ganzoo import host
from ganzoo.build import create_generator
from ganzoo.components import Weights
from ganzoo.errors import GanzooError
from ganzoo.recipes import resolve_recipe, with_data_shape
from ganzoo.sampling import generate_images
from ganzoo.store.generator_file import generator_bytes
from ganzoo.weights import fetch, register_weights_file, resolve_generator
from ganzoo.weights.sources import cached_path, import_hub, parse_hf
from tests.conftest import ROOT, TINY, run_cli

SMALL = ["generator.ngf=8", "discriminator.ndf=8"]


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory) -> Path:
    """A tiny dcgan generator file in fp16, as a weights package ships it."""
    host.reset()
    table = host.get_table()
    recipe = with_data_shape(resolve_recipe("dcgan", SMALL, table=table), 1, 0)
    torch.manual_seed(123)  # not the seed a run starts from
    G = create_generator(recipe.generator_arch, recipe.generator, table=table)
    path = tmp_path_factory.mktemp("weights") / "dcgan.tiny.safetensors"
    path.write_bytes(generator_bytes(G, recipe.generator_arch, recipe.generator, 7,
                                     recipe.name, half=True))
    host.reset()
    return path


def entry_for(path: Path, *sources: str, **changes) -> Weights:
    data = path.read_bytes()
    fields = {"name": "dcgan.tiny", "file": path.name, "sha256": hashlib.sha256(data).hexdigest(),
              "size": len(data), "sources": sources or (str(path),), "recipe": "dcgan",
              "dataset": "fashion-mnist", **changes}
    entry = Weights(**fields)
    entry.validate("test")
    return entry


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GANZOO_WEIGHTS_DIR", raising=False)
    return tmp_path / "cache"


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# -- a real HTTP server on 127.0.0.1 ---------------------------------------------------------


@pytest.fixture
def server():
    """Serves ``routes[path] = (bytes, mode)``; mode "truncate" sends the full Content-Length
    and closes the connection half-way."""
    routes: dict[str, tuple[bytes, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path not in routes:
                self.send_error(404)
                return
            data, mode = routes[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if mode == "truncate":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, routes
    httpd.shutdown()
    httpd.server_close()


def test_http_download_is_verified_cached_and_reused_offline(tiny_file, cache, server):
    base, routes = server
    routes["/w.safetensors"] = (tiny_file.read_bytes(), "full")
    entry = entry_for(tiny_file, f"{base}/w.safetensors")
    got = fetch(entry)
    assert got == cached_path(entry) and got.read_bytes() == tiny_file.read_bytes()
    assert files_in(cache) == [got], "no temporary file is left beside it"
    routes.clear()  # the server now has nothing: the verified cache answers
    assert fetch(entry) == got


def test_truncated_download_is_an_error_and_leaves_nothing(tiny_file, cache, server):
    base, routes = server
    routes["/w.safetensors"] = (tiny_file.read_bytes(), "truncate")
    entry = entry_for(tiny_file, f"{base}/w.safetensors")
    with pytest.raises(GanzooError) as info:
        fetch(entry)
    message = str(info.value)
    assert "dcgan.tiny" in message and f"expected {entry.size}" in message
    assert files_in(cache) == []


def test_wrong_hash_download_names_both_hashes_and_leaves_nothing(tiny_file, cache, server):
    base, routes = server
    data = bytearray(tiny_file.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes
    routes["/w.safetensors"] = (bytes(data), "full")
    entry = entry_for(tiny_file, f"{base}/w.safetensors")
    with pytest.raises(GanzooError) as info:
        fetch(entry)
    found = hashlib.sha256(bytes(data)).hexdigest()
    assert f"sha256 {found}, expected {entry.sha256}" in str(info.value)
    assert files_in(cache) == []


def test_http_error_and_a_second_source(tiny_file, cache, server):
    base, routes = server
    routes["/good"] = (tiny_file.read_bytes(), "full")
    entry = entry_for(tiny_file, f"{base}/missing", f"{base}/good")
    assert fetch(entry).read_bytes() == tiny_file.read_bytes()
    only_missing = entry_for(tiny_file, f"{base}/missing")
    cached_path(only_missing).unlink()
    with pytest.raises(GanzooError, match="HTTP 404"):
        fetch(only_missing)


def test_sha256_and_size_mismatch_of_a_package_file(tiny_file, cache, tmp_path):
    wrong_size = dataclasses.replace(entry_for(tiny_file), size=10)
    with pytest.raises(GanzooError, match=r"bytes, expected 10 \(sha256"):
        fetch(wrong_size)
    wrong_hash = dataclasses.replace(entry_for(tiny_file), sha256="0" * 64)
    with pytest.raises(GanzooError) as info:
        fetch(wrong_hash)
    assert f"expected {'0' * 64}" in str(info.value)
    assert hashlib.sha256(tiny_file.read_bytes()).hexdigest() in str(info.value)
    assert files_in(cache) == []


def test_a_damaged_cache_file_is_replaced_not_used(tiny_file, cache, server):
    base, routes = server
    routes["/w"] = (tiny_file.read_bytes(), "full")
    entry = entry_for(tiny_file, f"{base}/w")
    target = cached_path(entry)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x" * entry.size)  # a damaged copy of the right size
    assert fetch(entry).read_bytes() == tiny_file.read_bytes()


def test_the_weights_dir_mirror_is_checked_first(tiny_file, cache, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / tiny_file.name).write_bytes(tiny_file.read_bytes())
    monkeypatch.setenv("GANZOO_WEIGHTS_DIR", str(mirror))
    entry = entry_for(tiny_file, "https://127.0.0.1:9/never-reached")
    assert fetch(entry) == mirror / tiny_file.name


@pytest.mark.parametrize(("field", "value", "says"), [
    ("sha256", "abc", "64 lowercase hex"),
    ("size", 0, "size must be"),
    ("sources", ("relative/file.safetensors",), "must be an absolute path"),
    ("sources", ("hf://owner-only",), "is not hf://OWNER/REPO/FILE"),
    ("file", "../x.safetensors", "plain file name"),
    ("scores", {"fd-fmnist": "good"}, "scores must map"),
])
def test_a_malformed_entry_is_one_clear_error(tiny_file, field, value, says):
    entry = dataclasses.replace(entry_for(tiny_file), **{field: value})
    with pytest.raises(GanzooError, match=says):
        entry.validate("plugin 'acme' weights 'dcgan.tiny'")


# -- hf:// -----------------------------------------------------------------------------------


def test_hf_references_are_parsed():
    ref = parse_hf("hf://acme/ganzoo-fmnist/weights/dcgan.safetensors")
    assert (ref.repo_id, ref.filename, ref.revision) == (
        "acme/ganzoo-fmnist", "weights/dcgan.safetensors", None)
    assert parse_hf("hf://acme/zoo@v1.2/g.safetensors").revision == "v1.2"
    for bad in ("hf://acme", "hf://acme/repo", "hf://acme/repo/../x", "https://x"):
        with pytest.raises(GanzooError, match="hf://OWNER/REPO/FILE|'..'"):
            parse_hf(bad)


def test_hf_without_the_extra_names_it(tiny_file, cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    with pytest.raises(GanzooError, match=r"pip install 'ganzoo\[hub\]'"):
        import_hub()
    entry = entry_for(tiny_file, "hf://acme/zoo/dcgan.tiny.safetensors")
    with pytest.raises(GanzooError, match=r"ganzoo\[hub\]"):
        fetch(entry)
    assert files_in(cache) == []


def test_hf_offline_with_an_empty_hub_cache_is_a_clear_error(tiny_file, cache, tmp_path,
                                                               monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entry = entry_for(tiny_file, "hf://acme/zoo/dcgan.tiny.safetensors")
    with pytest.raises(GanzooError, match="from hf://acme/zoo/dcgan.tiny.safetensors failed"):
        fetch(entry)
    assert files_in(cache) == []


# -- tags wherever a run folder goes ---------------------------------------------------------


def plugin_with(entry: Weights) -> types.SimpleNamespace:
    def register_weights(register):
        register(entry.name, file=entry.file, sha256=entry.sha256, size=entry.size,
                 sources=list(entry.sources), recipe=entry.recipe, dataset=entry.dataset,
                 scores={"fd-fmnist": 12.5}, protocol="made up", license="MIT")

    return types.SimpleNamespace(register_weights=ganzoo.hookimpl(register_weights))


def test_register_weights_in_process_tag_loads_samples_and_exports(tiny_file, cache, tmp_path):
    from ganzoo.export import export_generator

    plugin = plugin_with(entry_for(tiny_file))
    host.register_plugin(plugin, "tinyweights")
    try:
        assert ganzoo.list_pretrained() == ["tinyweights:dcgan.tiny"]
        G, info = ganzoo.load_generator("dcgan.tiny")
        assert info["step"] == 7 and info["weights"].scores == {"fd-fmnist": 12.5}
        with safe_open(str(tiny_file), framework="pt") as f:
            stored = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        assert {t.dtype for t in stored.values() if t.is_floating_point()} == {torch.float16}
        for key, value in G.state_dict().items():
            assert value.dtype == (torch.float32 if value.is_floating_point() else value.dtype)
            assert torch.equal(value, stored[key].to(value.dtype)), key
        images = generate_images(G, 4, nz=info["generator_config"].nz, seed=0)
        assert images.shape == (4, 1, 32, 32) and torch.isfinite(images).all()
        resolved = resolve_generator("dcgan.tiny", table=host.get_table())
        assert resolved.path == tiny_file and resolved.dataset == "fashion-mnist"
        result = export_generator(resolved.path, tmp_path / "out", table=host.get_table())
        assert result.onnx_path.is_file() and result.parity.max_abs_error < 1e-4
    finally:
        host.unregister_plugin(plugin, "tinyweights")


def test_an_unknown_tag_close_to_a_known_one_says_so(tiny_file, cache):
    plugin = plugin_with(entry_for(tiny_file))
    host.register_plugin(plugin, "tinyweights")
    try:
        with pytest.raises(GanzooError, match="did you mean 'dcgan.tiny'"):
            ganzoo.load_generator("dcgan.tny")
    finally:
        host.unregister_plugin(plugin, "tinyweights")


def test_a_catalog_file_registers_its_entries_and_rejects_unknown_keys(tiny_file, tmp_path):
    entry = entry_for(tiny_file)
    catalog = tiny_file.parent / "weights.json"
    row = {"tag": "dcgan.tiny", "file": entry.file, "sha256": entry.sha256, "size": entry.size,
           "urls": ["https://example.org/dcgan.tiny.safetensors"], "steps": 7}
    catalog.write_text(json.dumps({"format": "ganzoo-weights/1", "weights": [row]}))
    got = []
    register_weights_file(lambda tag, **fields: got.append((tag, fields)), catalog)
    assert got[0][0] == "dcgan.tiny"
    assert got[0][1]["sources"] == (str(tiny_file), "https://example.org/dcgan.tiny.safetensors")
    catalog.write_text(json.dumps({"format": "ganzoo-weights/1",
                                   "weights": [{**row, "fd": 3}]}))
    with pytest.raises(GanzooError, match="unknown key"):
        register_weights_file(lambda tag, **fields: None, catalog)


# -- hub folders ---------------------------------------------------------------------------


def test_a_hub_folder_round_trips(tiny_file, tmp_path):
    hub = tmp_path / "hub"
    run_cli("export", str(tiny_file), "--hub", str(hub), "--license", "CC-BY-4.0")
    assert sorted(p.name for p in hub.iterdir()) == [
        "README.md", "config.json", "generator.onnx", "generator.safetensors"]
    config = json.loads((hub / "config.json").read_text())
    assert config["format"] == "ganzoo-hub/1" and config["architecture"] == "ganzoo:dcgan"
    assert config["image"] == {"channels": 1, "resolution": 32, "range": [-1, 1],
                               "layout": "NCHW"}
    assert config["latent"]["sampler"] == "ganzoo-normal/1"
    assert config["generator_sha256"] == hashlib.sha256(
        (hub / "generator.safetensors").read_bytes()).hexdigest()
    card = (hub / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: ganzoo\nlicense: \"CC-BY-4.0\"\n")
    assert "import onnxruntime as ort" in card and "ganzoo sample" in card
    proc = run_cli("sample", str(hub), "-n", "4", "-o", str(tmp_path / "a.png"), "--precision",
                   "fp32")
    assert "step 7" in proc.stdout
    G, _ = ganzoo.load_generator(hub)
    G0, _ = ganzoo.load_generator(tiny_file)
    z = torch.randn(2, 100)
    assert torch.equal(G(z), G0(z))
    (hub / "generator.safetensors").write_bytes(tiny_file.read_bytes())  # swapped
    proc = run_cli("sample", str(hub), "-o", str(tmp_path / "b.png"), check=False)
    assert proc.returncode != 0 and "records" in proc.stderr and "Traceback" not in proc.stderr


def test_hub_requires_no_output_and_license_needs_hub(tiny_file, tmp_path):
    proc = run_cli("export", str(tiny_file), "--hub", str(tmp_path / "h"), "-o",
                   str(tmp_path / "o"), check=False)
    assert proc.returncode != 0 and "drop -o/--output" in proc.stderr
    proc = run_cli("export", str(tiny_file), "--license", "MIT", check=False)
    assert proc.returncode != 0 and "--license only matters with --hub" in proc.stderr


# -- --init ------------------------------------------------------------------------------------


def _checkpoint_tensors(run: Path) -> dict[str, torch.Tensor]:
    from ganzoo.store.checkpoint import latest_checkpoint

    return latest_checkpoint(run)[1]


def test_train_init_starts_g_from_the_file_and_d_fresh(tiny_file, tmp_path):
    common = ["--steps", "1", "--precision", "fp32", "--quiet", *TINY, "--set", "train.lr=1e-30"]
    fresh, tuned = tmp_path / "fresh", tmp_path / "tuned"
    run_cli("train", "--arch", "dcgan", "--out", str(fresh), *common)
    run_cli("train", "--init", str(tiny_file), "--out", str(tuned), *common)
    config = json.loads((tuned / "config.json").read_text())
    assert config["init"]["discriminator"] == "fresh"
    assert config["init"]["sha256"] == hashlib.sha256(tiny_file.read_bytes()).hexdigest()
    with safe_open(str(tiny_file), framework="pt") as f:
        stored = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    tensors = _checkpoint_tensors(tuned)
    G, _ = ganzoo.load_generator(tiny_file)
    params = {name for name, _ in G.named_parameters()}
    fresh_tensors = _checkpoint_tensors(fresh)
    for name in params:  # lr ~0: the step kept G's parameters where the file put them
        assert torch.allclose(tensors[f"G.{name}"], stored[name].float(), rtol=0, atol=1e-20)
    assert not all(torch.allclose(fresh_tensors[f"G.{name}"], stored[name].float(), atol=1e-6)
                   for name in params)
    a, _ = ganzoo.load_generator(tuned)
    b, _ = ganzoo.load_generator(fresh)
    z = torch.randn(4, 100)
    assert not torch.allclose(a(z), b(z))


def test_train_init_with_another_generator_config_says_how_to_match(tiny_file, tmp_path):
    proc = run_cli("train", "--init", str(tiny_file), "--steps", "1", "--out",
                   str(tmp_path / "r"), check=False)
    assert proc.returncode != 0
    assert "ngf 8 there, 64 here" in proc.stderr and "--set generator.ngf=8" in proc.stderr
    assert not (tmp_path / "r").exists()


# -- the packaging script ----------------------------------------------------------------------


def test_package_weights_writes_an_fp16_entry_that_loads(tmp_path, cache):
    run = tmp_path / "run"
    run_cli("train", "--arch", "dcgan", "--steps", "2", "--out", str(run), "--quiet", *TINY)
    package = tmp_path / "pkg"
    source = ROOT / "plugins" / "ganzoo-weights-fmnist"
    package.mkdir()
    (package / "ganzoo_weights_fmnist").mkdir()
    (package / "ganzoo_weights_fmnist" / "__init__.py").write_bytes(
        (source / "ganzoo_weights_fmnist" / "__init__.py").read_bytes())
    (package / "ganzoo_weights_fmnist" / "weights.json").write_text(  # an empty package
        json.dumps({"format": "ganzoo-weights/1", "weights": []}))
    script = ROOT / "scripts" / "package_weights.py"
    proc = run_cli_script(script, str(run), "dcgan.tiny", "--package", str(package), "--fd",
                          "99.5", "--protocol", "test protocol", "--command",
                          "ganzoo train --arch dcgan --steps 2")
    assert "fp16 vs fp32" in proc.stdout
    catalog = json.loads((package / "ganzoo_weights_fmnist" / "weights.json").read_text())
    (row,) = catalog["weights"]
    data = (package / "ganzoo_weights_fmnist" / "dcgan.tiny.safetensors").read_bytes()
    assert (row["sha256"], row["size"], row["steps"]) == (
        hashlib.sha256(data).hexdigest(), len(data), 2)
    assert row["scores"] == {"fd-fmnist": 99.5} and row["dataset"] == "fashion-mnist"
    spec = importlib.util.spec_from_file_location(
        "pkg_weights", package / "ganzoo_weights_fmnist" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    host.register_plugin(module, "fmnist")
    try:
        G, info = ganzoo.load_generator("dcgan.tiny")
        G_run, _ = ganzoo.load_generator(run)
        z = torch.randn(3, 100)
        assert (G(z) - G_run(z)).abs().max() < 1e-2  # fp16 rounding only
    finally:
        host.unregister_plugin(module, "fmnist")
    assert files_in(cache / "weights") == [], "a package file is used in place"


def run_cli_script(script: Path, *args: str):
    import os
    import subprocess

    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc
