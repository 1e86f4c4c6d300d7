"""Pretrained weights: entries as data, verified fetching (a real local HTTP server), tags
wherever a run folder goes, --init fine-tuning, hub folders, and the packaging script."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import subprocess
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
from ganzoo.build import build_pair, create_generator
from ganzoo.components import Weights
from ganzoo.errors import GanzooError
from ganzoo.recipes import resolve_recipe, with_data_shape
from ganzoo.sampling import generate_images
from ganzoo.store.generator_file import generator_bytes
from ganzoo.weights import fetch, register_weights_file, resolve_generator
from ganzoo.weights.resolve import parse_hf_target
from ganzoo.weights.sources import HubReference, cached_path, import_hub, parse_hf
from tests.conftest import ROOT, TINY, plugins_env, run_cli

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


def test_hf_folder_and_file_references_are_parsed():
    assert parse_hf_target("hf://acme/zoo") == HubReference("acme/zoo", "", None)
    assert parse_hf_target("hf://acme/zoo@v2/") == HubReference("acme/zoo", "", "v2")
    assert parse_hf_target("hf://acme/zoo@v2/sub/g.safetensors") == HubReference(
        "acme/zoo", "sub/g.safetensors", "v2")
    for bad, says in (("hf://acme", "not an hf:// reference"), ("hf://", "not an hf://"),
                      ("hf:///zoo", "not an hf://"), ("hf://acme/zoo@/g", "not an hf://"),
                      ("hf://acme/zoo/../g.safetensors", "may not contain '..'"),
                      ("hf://acme/..", "not a repository name"),
                      ("hf://acme/../g.safetensors", "not a repository name")):
        with pytest.raises(GanzooError, match=re.escape(says)):
            parse_hf_target(bad)


def test_a_bad_hf_reference_is_one_clear_error_on_the_command_line(tmp_path):
    proc = run_cli("sample", "hf://acme", "-o", str(tmp_path / "grid.png"), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "write hf://OWNER/REPO (a hub folder" in proc.stderr
    assert not (tmp_path / "grid.png").exists()


def hub_cache_with(cache: Path, repo_id: str, files: dict[str, bytes],
                   revisions: tuple[str, ...] = ("main",)) -> str:
    """A huggingface_hub cache holding ``files`` of ``repo_id``, laid out as huggingface_hub
    lays it out: ``models--OWNER--REPO/blobs/HASH``, ``snapshots/COMMIT/FILE`` linking to the
    blob, ``refs/REVISION`` holding the commit. Returns the commit."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(json.dumps(sorted(files)).encode()).hexdigest()
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    for revision in revisions:
        (repo / "refs" / revision).write_text(commit)
    return commit


@pytest.fixture(scope="module")
def hub_dir(tiny_file, tmp_path_factory) -> Path:
    """``ganzoo export --hub`` of the tiny generator: what a user uploads."""
    hub = tmp_path_factory.mktemp("hub") / "dcgan-tiny"
    run_cli("export", str(tiny_file), "--hub", str(hub))
    return hub


# Run in a fresh interpreter: huggingface_hub reads HF_HUB_OFFLINE and HF_HUB_CACHE at import.
HF_OFFLINE_CHECK = r"""
import json, sys
from pathlib import Path
import huggingface_hub.constants
from ganzoo.components import Weights
from ganzoo.errors import GanzooError
from ganzoo.host import get_table
from ganzoo.weights import fetch, resolve_generator
from ganzoo.weights.sources import cached_path

want = json.loads(sys.argv[1])
table = get_table()
out = {"offline": huggingface_hub.constants.HF_HUB_OFFLINE}
folder = resolve_generator("hf://acme/zoo", table=table)
out["folder"] = [str(folder.path), folder.hub["recipe"], folder.dataset]
pinned = resolve_generator("hf://acme/zoo@v1/generator.safetensors", table=table)
out["file"] = str(pinned.path)

def entry(sha256, source="hf://acme/zoo/generator.safetensors", file="generator.safetensors"):
    e = Weights(name="dcgan.tiny", file=file, sha256=sha256,
                size=want["size"], sources=(source,))
    e.validate("check")
    return e

got = fetch(entry(want["sha256"]))
out["fetched"] = [str(got), str(cached_path(entry(want["sha256"])))]
errors = {}
cases = {"wrong-hash": ("0" * 64,),
         "not-cached": (want["sha256"], "hf://acme/other/g.safetensors", "g.safetensors")}
for key, args in cases.items():
    try:
        fetch(entry(*args))
    except GanzooError as exc:
        errors[key] = str(exc)
try:
    resolve_generator("hf://acme/missing", table=table)
except GanzooError as exc:
    errors["missing-repo"] = str(exc)
out["errors"] = errors
print(json.dumps(out))
"""


def test_hf_reads_a_prepopulated_hub_cache_offline(hub_dir, tmp_path):
    """HF_HUB_OFFLINE=1 and a huggingface_hub cache holding the hub folder, as 'hf download
    acme/zoo' leaves it: hf://acme/zoo samples, hf://acme/zoo@v1/FILE resolves, a weights
    entry with an hf:// source is copied into ganzoo's cache verified, and what is not cached
    is one clear error."""
    pytest.importorskip("huggingface_hub", reason="hf:// needs the hub extra: pip install "
                                                  "'ganzoo[hub]'")
    files = {p.name: p.read_bytes() for p in hub_dir.iterdir()}
    hub_cache = tmp_path / "hf" / "hub"
    commit = hub_cache_with(hub_cache, "acme/zoo", files, revisions=("main", "v1"))
    snapshot = hub_cache / "models--acme--zoo" / "snapshots" / commit
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(hub_cache),
           "HF_HUB_OFFLINE": "1", "GANZOO_CACHE_DIR": str(tmp_path / "cache"),
           "GANZOO_WEIGHTS_DIR": None}
    data = files["generator.safetensors"]
    want = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    proc = subprocess.run([sys.executable, "-c", HF_OFFLINE_CHECK, json.dumps(want)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={k: v for k, v in {**os.environ, **env}.items() if v is not None})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["offline"] is True
    assert out["folder"] == [str(snapshot / "generator.safetensors"), "dcgan", None]
    assert out["file"] == str(snapshot / "generator.safetensors")
    fetched, cached = out["fetched"]
    assert fetched == cached and Path(fetched).read_bytes() == data
    assert files_in(tmp_path / "cache") == [Path(cached)], "only the verified copy"
    errors = out["errors"]
    assert f"sha256 {want['sha256']}, expected {'0' * 64}" in errors["wrong-hash"]
    assert "from hf://acme/other/g.safetensors failed" in errors["not-cached"]
    missing = errors["missing-repo"]
    assert missing.startswith("fetching hf://acme/missing failed") and "\n" not in missing
    assert "HF_HUB_OFFLINE is set" in missing and "hf download acme/missing" in missing
    proc = run_cli("sample", "hf://acme/zoo", "-n", "4", "-o", str(tmp_path / "grid.png"),
                   "--precision", "fp32", env=env, cwd=tmp_path)
    assert "step 7" in proc.stdout and (tmp_path / "grid.png").stat().st_size > 0


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


@pytest.fixture(scope="module")
def tiny_site(tiny_file, tmp_path_factory) -> Path:
    """A weights package serving the tiny generator as tag ``dcgan.tiny``, laid out as pip
    installs it (module, weights.json, dist-info with the entry point)."""
    site = tmp_path_factory.mktemp("tinysite")
    package = site / "ganzoo_tinyweights"
    package.mkdir()
    data = tiny_file.read_bytes()
    (package / tiny_file.name).write_bytes(data)
    row = {"tag": "dcgan.tiny", "file": tiny_file.name, "sha256": hashlib.sha256(data).hexdigest(),
           "size": len(data), "recipe": "dcgan", "dataset": "fashion-mnist", "steps": 7}
    (package / "weights.json").write_text(json.dumps({"format": "ganzoo-weights/1",
                                                      "weights": [row]}))
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\nimport ganzoo\n\n\n@ganzoo.hookimpl\n"
        "def register_weights(register):\n"
        "    from ganzoo.weights import register_weights_file\n\n"
        "    register_weights_file(register, Path(__file__).parent / 'weights.json')\n")
    info = site / "ganzoo_tinyweights-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ganzoo-tinyweights\n"
                                   "Version: 0.1.0\n")
    (info / "entry_points.txt").write_text("[ganzoo]\ntinyweights = ganzoo_tinyweights\n")
    return site


def test_train_init_from_a_tag_starts_g_from_its_file_and_d_fresh(tiny_file, tiny_site,
                                                                  tmp_path):
    common = ["--steps", "1", "--precision", "fp32", *TINY, "--set", "train.lr=1e-30"]
    fresh, tuned = tmp_path / "fresh", tmp_path / "tuned"
    run_cli("train", "--arch", "dcgan", "--out", str(fresh), "--quiet", *common)
    proc = run_cli("train", "--init", "dcgan.tiny", "--out", str(tuned), *common,
                   env=plugins_env(tiny_site, GANZOO_CACHE_DIR=str(tmp_path / "cache")))
    assert ("generator from dcgan.tiny (step 7); the discriminator starts fresh (the file "
            "holds a generator only)") in proc.stderr
    init = json.loads((tuned / "config.json").read_text())["init"]
    assert (init["from"], init["discriminator"], init["step"]) == ("dcgan.tiny", "fresh", 7)
    assert init["file"] == str((tiny_site / "ganzoo_tinyweights" / tiny_file.name).resolve())
    assert init["sha256"] == hashlib.sha256(tiny_file.read_bytes()).hexdigest()
    with safe_open(str(tiny_file), framework="pt") as f:
        stored = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    tensors = _checkpoint_tensors(tuned)
    fresh_tensors = _checkpoint_tensors(fresh)
    recipe, table = _tiny_recipe()
    G, D = build_pair(recipe, table)
    g_params = [name for name, _ in G.named_parameters()]
    for name in g_params:  # lr ~0: the step kept G's parameters where the file put them
        assert torch.allclose(tensors[f"G.{name}"], stored[name].float(), rtol=0, atol=1e-20)
    assert not all(torch.allclose(fresh_tensors[f"G.{name}"], stored[name].float(), atol=1e-6)
                   for name in g_params)
    for name, _ in D.named_parameters():  # D as a run from scratch with the same seed has it
        assert torch.allclose(tensors[f"D.{name}"], fresh_tensors[f"D.{name}"], rtol=0,
                              atol=1e-20)


def test_train_init_with_another_generator_config_says_how_to_match(tiny_file, tmp_path):
    proc = run_cli("train", "--init", str(tiny_file), "--steps", "1", "--out",
                   str(tmp_path / "r"), check=False)
    assert proc.returncode != 0
    assert "ngf 8 there, 64 here" in proc.stderr and "--set generator.ngf=8" in proc.stderr
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def source_run(tmp_path_factory) -> Path:
    """A tiny dcgan run of 2 steps: its G, EMA G and D have all moved from their start."""
    run = tmp_path_factory.mktemp("source") / "run"
    run_cli("train", "--arch", "dcgan", "--steps", "2", "--out", str(run), "--quiet",
            "--precision", "fp32", *TINY)
    return run


def _tiny_recipe(*overrides: str):
    table = host.get_table()
    recipe = resolve_recipe("dcgan", [*SMALL, *overrides], table=table)
    return with_data_shape(recipe, 1, 0), table


def test_init_from_a_run_loads_g_its_ema_and_d_from_the_latest_checkpoint(source_run):
    from ganzoo.store.checkpoint import latest_checkpoint
    from ganzoo.train.init import apply_init, read_init

    recipe, table = _tiny_recipe()
    init = read_init(source_run, "src", recipe, table=table)
    path, tensors, _ = latest_checkpoint(source_run)
    assert init.record == {
        "from": "src", "run": str(source_run.resolve()), "file": str(path.resolve()),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "arch": "ganzoo:dcgan",
        "discriminator_arch": "ganzoo:dcgan", "recipe": "dcgan", "step": 2,
        "discriminator": "checkpoint"}
    assert init.describe().startswith("G, its EMA copy and D from src (step-0000002")
    torch.manual_seed(0)
    G, D = build_pair(recipe, table)
    G_ema = copy.deepcopy(G)
    models = {"G": G, "G_ema": G_ema, "D": D}

    def holds(prefix: str, module: torch.nn.Module) -> bool:
        return all(torch.equal(value, tensors[f"{prefix}.{key}"])
                   for key, value in module.state_dict().items())

    assert not any(holds(prefix, module) for prefix, module in models.items())
    assert any(not torch.equal(tensors[f"G.{key}"], tensors[f"G_ema.{key}"])
               for key in G.state_dict()), "G and its EMA copy differ in the checkpoint"
    apply_init(G, D, G_ema, init)
    assert all(holds(prefix, module) for prefix, module in models.items())


def test_train_init_from_a_run_fine_tunes_g_and_d_from_step_0(source_run, tmp_path):
    from ganzoo.store.checkpoint import latest_checkpoint, list_checkpoints, read_checkpoint

    tuned = tmp_path / "tuned"
    proc = run_cli("train", "--init", str(source_run), "--steps", "1", "--out", str(tuned),
                   "--precision", "fp32", *TINY, "--set", "train.lr=1e-30")
    assert (f"G, its EMA copy and D from {source_run} (step-0000002.safetensors, step 2); "
            "the optimizers, the step and the RNG start fresh") in proc.stderr
    path, source, _ = latest_checkpoint(source_run)
    init = json.loads((tuned / "config.json").read_text())["init"]
    assert (init["discriminator"], init["step"], init["recipe"], init["file"]) == (
        "checkpoint", 2, "dcgan", str(path.resolve()))
    ((step, first),) = list_checkpoints(tuned)
    tensors, meta = read_checkpoint(first)
    assert step == 1 and meta["d_steps"] == "1", "the step counts from 0, not from the source's"
    G, D = build_pair(*_tiny_recipe())
    for prefix, module in (("G", G), ("D", D)):  # lr ~0: the step kept them where they started
        for name, _ in module.named_parameters():
            assert torch.allclose(tensors[f"{prefix}.{name}"], source[f"{prefix}.{name}"],
                                  rtol=0, atol=1e-20), f"{prefix}.{name}"


def test_init_from_a_run_whose_models_differ_is_one_clear_error(source_run, tmp_path):
    from ganzoo.store.checkpoint import list_checkpoints
    from ganzoo.train.init import read_init

    proc = run_cli("train", "--init", str(source_run), "--steps", "1", "--out",
                   str(tmp_path / "r"), check=False)  # the recipe's widths, not the run's 8
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert ("its models differ from this run's (generator.ngf 8 there, 64 here, "
            "discriminator.ndf 8 there, 64 here); add --set generator.ngf=8 --set "
            "discriminator.ndf=8") in proc.stderr
    assert not (tmp_path / "r").exists()
    recipe, table = _tiny_recipe("train.resolution=64")
    with pytest.raises(GanzooError, match=r"resolution 32 there, 64 here\); add --set "
                                          r"train.resolution=32 \(fine-tuning"):
        read_init(source_run, "src", recipe, table=table)
    other = with_data_shape(resolve_recipe("r3gan", [], table=table), 1, 0)
    with pytest.raises(GanzooError, match=r"generator.arch 'ganzoo:dcgan' there, 'ganzoo:r3gan' "
                                          r"here.*train the recipe it came from \(--arch dcgan\)"):
        read_init(source_run, "src", other, table=table)
    recipe, _ = _tiny_recipe()
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanzooError, match="neither a run folder"):
        read_init(tmp_path / "empty", "empty", recipe, table=table)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "config.json").write_bytes((source_run / "config.json").read_bytes())
    with pytest.raises(GanzooError, match=r"^--init fresh: .* has no checkpoint yet"):
        read_init(fresh, "fresh", recipe, table=table)
    checkpoint = list_checkpoints(source_run)[-1][1]
    with pytest.raises(GanzooError, match="is a training checkpoint, not a generator file; "
                                          "pass its run folder"):
        read_init(checkpoint, "ckpt", recipe, table=table)


# -- the packaging script ----------------------------------------------------------------------


def test_package_weights_writes_an_fp16_entry_that_loads(source_run, tmp_path, cache):
    run = source_run
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
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc
