"""``ganzoo export --web``: the static page, loaded in a real headless Chromium.

The browser tests need Debian's ``chromium``, ``node``, and ``onnxruntime-web`` +
``playwright-core`` from npm in ``.ci-cache/web/node_modules`` (what ``.ci/run`` installs),
``./node_modules`` or ``$GANZOO_WEB_NODE_MODULES``; they skip only when one is absent, and
fail instead when ``GANZOO_NO_SKIP=1`` (CI sets it, so they cannot skip there).
Screenshots go to ``$GANZOO_TEST_ARTEFACTS`` when it is set.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from ganzoo.errors import GanzooError
from ganzoo.export import export_generator
from ganzoo.export.web import ORT_FILES, export_web, find_ort_web
from ganzoo.host import get_table
from ganzoo.images import make_grid, to_uint8
from ganzoo.latents import sample_latents
from ganzoo.runtime import Generator
from tests.conftest import ROOT, run_cli
from tests.test_export import write_generator

DRIVER = Path(__file__).parent / "helpers" / "web_driver.cjs"


def _node_modules() -> Path | None:
    candidates = [os.environ.get("GANZOO_WEB_NODE_MODULES"), ROOT / ".ci-cache/web/node_modules",
                  ROOT / "node_modules"]
    for folder in filter(None, candidates):
        folder = Path(folder)
        if (folder / "onnxruntime-web/dist").is_dir() and (folder / "playwright-core").is_dir():
            return folder
    return None


NODE_MODULES = _node_modules()
CHROMIUM = os.environ.get("GANZOO_CHROMIUM") or shutil.which("chromium")
NODE = shutil.which("node")
MISSING = [name for name, found in (("chromium", CHROMIUM), ("node", NODE),
                                    ("onnxruntime-web + playwright-core", NODE_MODULES))
           if not found]
WHY = (f"missing {', '.join(MISSING)} (.ci/run installs chromium and node from Debian, the npm "
       "packages into .ci-cache/web)")
needs_browser = pytest.mark.skipif(
    bool(MISSING) and os.environ.get("GANZOO_NO_SKIP") != "1", reason=WHY)


# -- finding onnxruntime-web (no browser needed) ----------------------------------------------


def fake_dist(folder: Path, files=ORT_FILES) -> Path:
    dist = folder / "node_modules" / "onnxruntime-web" / "dist"
    dist.mkdir(parents=True)
    for name in files:
        (dist / name).write_text("// stand-in")
    return dist


def test_find_ort_web_accepts_dist_package_or_project_folder(tmp_path, monkeypatch):
    dist = fake_dist(tmp_path)
    monkeypatch.delenv("GANZOO_ORT_WEB", raising=False)
    for given in (dist, dist.parent, tmp_path / "node_modules", tmp_path):
        assert find_ort_web(given) == dist
    monkeypatch.setenv("GANZOO_ORT_WEB", str(dist.parent))
    assert find_ort_web() == dist
    monkeypatch.delenv("GANZOO_ORT_WEB")
    monkeypatch.chdir(tmp_path)
    assert find_ort_web() == dist


def test_find_ort_web_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("GANZOO_ORT_WEB", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GanzooError, match=r"not found in the current folder.*npm install "
                                          r"onnxruntime-web"):
        find_ort_web()
    with pytest.raises(GanzooError, match=r"--ort-web .*nowhere does not exist.*npm install"):
        find_ort_web(tmp_path / "nowhere")
    fake_dist(tmp_path / "old", files=ORT_FILES[:1])
    with pytest.raises(GanzooError, match="lacks ort-wasm-simd-threaded.asyncify.mjs"):
        find_ort_web(tmp_path / "old")


def test_cli_web_without_onnxruntime_web_fails_before_exporting(tmp_path):
    source = tmp_path / "g" / "generator.safetensors"
    source.parent.mkdir()
    source.write_bytes(b"not read: the missing onnxruntime-web is reported first")
    proc = run_cli("export", str(source), "--web", str(tmp_path / "site"), check=False,
                   env={"GANZOO_ORT_WEB": str(tmp_path / "empty")}, cwd=tmp_path)
    assert proc.returncode == 2
    assert "error: GANZOO_ORT_WEB" in proc.stderr and "npm install onnxruntime-web" in proc.stderr
    assert not (tmp_path / "site").exists() and not (source.parent / "generator.onnx").exists()
    proc = run_cli("export", str(source), "--ort-web", str(tmp_path), check=False)
    assert proc.returncode == 2 and "--ort-web only matters with --web" in proc.stderr


# -- the page in Chromium ---------------------------------------------------------------------


@contextlib.contextmanager
def serve(folder: Path):
    """``folder`` over HTTP on 127.0.0.1 and a free port, from a thread; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def drive(job: dict, tmp: Path) -> list[dict]:
    """Run tests/helpers/web_driver.cjs on ``job`` in headless Chromium; one result per page."""
    job_path = tmp / "job.json"
    job_path.write_text(json.dumps({"chromium": CHROMIUM, **job}))
    proc = subprocess.run([NODE, str(DRIVER), str(job_path)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "NODE_PATH": str(NODE_MODULES)})
    assert proc.returncode == 0, f"web driver failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout)["pages"]


def page_pixels(grid: dict) -> np.ndarray:
    shape = (grid["n"], grid["height"], grid["width"], grid["channels"])
    return np.asarray(grid["data"], dtype=np.uint8).reshape(shape)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Row-wise spherical interpolation, as the page does it (float64, then float32)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    cos = np.clip((a64 * b64).sum(1) / np.sqrt((a64**2).sum(1) * (b64**2).sum(1)), -1, 1)
    omega = np.arccos(cos)[:, None]
    weights = np.sin((1 - t) * omega) / np.sin(omega), np.sin(t * omega) / np.sin(omega)
    return (weights[0] * a64 + weights[1] * b64).astype(np.float32)


def assert_close(got: np.ndarray, want: np.ndarray, levels: int = 2) -> None:
    """WASM and onnxruntime's CPU kernels differ in the last float bits: a pixel may round
    one level apart, rarely. In an int8 graph such a rounding is requantized on the way, so
    it can grow to a few levels (``levels``), still rarely."""
    assert got.shape == want.shape
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    assert diff.max() <= levels and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())


@pytest.fixture(scope="module")
def browser_run(tmp_path_factory):
    """Export tiny DCGANs with --web (float32, conditional, fp16 + uint8 grayscale, int8),
    load their pages (and one without its model)."""
    if MISSING:  # only reached when GANZOO_NO_SKIP=1
        pytest.fail(f"GANZOO_NO_SKIP=1, but the browser tests cannot run: {WHY}")
    tmp = tmp_path_factory.mktemp("web")
    shots = Path(os.environ.get("GANZOO_TEST_ARTEFACTS") or tmp)
    shots.mkdir(parents=True, exist_ok=True)
    dist = NODE_MODULES / "onnxruntime-web" / "dist"
    write_generator(tmp / "plain" / "generator.safetensors", "ganzoo:dcgan", 0, ngf=8)
    run_cli("export", str(tmp / "plain" / "generator.safetensors"), "--web",
            str(tmp / "www" / "plain"), "--ort-web", str(dist))
    write_generator(tmp / "cond" / "generator.safetensors", "ganzoo:dcgan", 3, ngf=8)
    result = export_generator(tmp / "cond" / "generator.safetensors", table=get_table())
    export_web(result.onnx_path, tmp / "www" / "cond", dist)
    write_generator(tmp / "gray" / "generator.safetensors", "ganzoo:dcgan", 0, ngf=8, channels=1)
    run_cli("export", str(tmp / "gray" / "generator.safetensors"), "--fp16", "--uint8", "--web",
            str(tmp / "www" / "gray"), "--ort-web", str(dist))
    write_generator(tmp / "int8" / "generator.safetensors", "ganzoo:dcgan", 0, ngf=8)
    run_cli("export", str(tmp / "int8" / "generator.safetensors"), "--quantize", "int8",
            "--calibration", "16", "--quality-n", "16", "--web", str(tmp / "www" / "int8"),
            "--ort-web", str(dist))
    shutil.copytree(tmp / "www" / "plain", tmp / "www" / "nomodel")
    (tmp / "www" / "nomodel" / "generator.onnx").unlink()

    latents = [[3, 16, 0], [5, 7, 4294967295], [2, 100, 123456789]]
    with serve(tmp / "www") as url:
        pages = drive({"pages": [
            {"url": f"{url}/plain/?n=16&seed=5", "screenshot": str(shots / "web-plain.png"),
             "renders": [{"seed": 5, "seedB": 9, "mix": 0.5}, {"seed": 5, "mix": 1.0}],
             "latents": latents, "controls": True},
            {"url": f"{url}/cond/?n=12&seed=3", "renders": [{"classIndex": 2}]},
            {"url": f"{url}/nomodel/", "screenshot": str(shots / "web-nomodel.png")},
            {"url": f"{url}/gray/?n=9&seed=4", "fakeWebGPU": True},
            {"url": f"{url}/int8/?n=16&seed=5", "timing": {"repeat": 3}, "fakeWebGPU": True},
        ]}, tmp)
    return tmp, pages, latents, shots


@needs_browser
def test_page_draws_the_images_ganzoo_generate_draws(browser_run):
    tmp, pages, _, shots = browser_run
    page = pages[0]
    assert page["ready"]["ok"], page
    assert page["state"] == "ready" and page["canvases"] == 16
    assert page["backendText"].startswith("Running on ") and (
        "WASM" in page["backendText"] or "WebGPU" in page["backendText"])
    assert not page["consoleErrors"], page["consoleErrors"]
    pixels = page_pixels(page["grids"][0])
    assert pixels.shape == (16, 16, 16, 3)
    assert pixels.std() > 20 and np.abs(np.diff(pixels.astype(int), axis=0)).mean() > 10

    model = tmp / "www" / "plain" / "generator.onnx"
    run_cli("generate", str(model), "-n", "16", "--seed", "5", "-o", str(tmp / "ref.png"),
            "--device", "cpu")
    reference = np.asarray(Image.open(tmp / "ref.png"))
    assert_close(make_grid(pixels, 4), reference)

    gen = Generator(model, device="cpu", threads=1)
    z5, z9 = sample_latents(16, 16, 5), sample_latents(16, 16, 9)
    halfway = page_pixels(page["grids"][1])
    assert_close(halfway, to_uint8(gen.run(slerp(z5, z9, 0.5))))
    assert np.abs(halfway.astype(int) - pixels).mean() > 5
    assert_close(page_pixels(page["grids"][2]), to_uint8(gen.generate(16, seed=9)))

    shot = Image.open(shots / "web-plain.png")
    assert shot.size[0] >= 400 and np.asarray(shot.convert("L")).std() > 20


@needs_browser
def test_page_controls_work_as_a_person_uses_them(browser_run):
    tmp, pages, _, _ = browser_run
    controls = pages[0]["controls"]
    gen = Generator(tmp / "www" / "plain" / "generator.onnx", device="cpu", threads=1)
    fresh = controls["newSamples"]
    assert fresh["seed"] != 5 and f"seed {fresh['seed']} (" in fresh["status"]
    assert_close(page_pixels(fresh["pixels"]), to_uint8(gen.generate(16, seed=fresh["seed"])))
    halfway = controls["slider"]
    assert f"seed {fresh['seed']} → seed 9 at 0.50" in halfway["status"]
    z = slerp(sample_latents(16, 16, fresh["seed"]), sample_latents(16, 16, 9), 0.5)
    assert_close(page_pixels(halfway["pixels"]), to_uint8(gen.run(z)))


@needs_browser
def test_page_latents_are_ganzoo_latents(browser_run):
    _, pages, latents, _ = browser_run
    for (n, nz, seed), values in zip(latents, pages[0]["latents"]):
        want = sample_latents(n, nz, seed).reshape(-1)
        assert np.array_equal(np.asarray(values, dtype=np.float32), want), (n, nz, seed)


@needs_browser
def test_conditional_page_has_a_class_picker(browser_run):
    tmp, pages, _, _ = browser_run
    page = pages[1]
    assert page["ready"]["ok"], page
    gen = Generator(tmp / "www" / "cond" / "generator.onnx", device="cpu", threads=1)
    assert_close(page_pixels(page["grids"][0]), to_uint8(gen.generate(12, seed=3)))
    one_class = page_pixels(page["grids"][1])
    assert_close(one_class, to_uint8(gen.generate(12, seed=3, class_index=2)))
    assert "class 2" in page["status"]
    assert page["classVisible"] and page["classOptions"] == 4  # "all, in turn", 0, 1, 2
    assert not pages[0]["classVisible"]


@needs_browser
def test_fp16_uint8_grayscale_export_runs_in_the_page(browser_run):
    tmp, pages, _, _ = browser_run
    page = pages[3]
    assert page["ready"]["ok"], page
    assert not page["consoleErrors"], page["consoleErrors"]
    gen = Generator(tmp / "www" / "gray" / "generator.onnx", device="cpu", threads=1)
    assert (gen.metadata.precision, gen.metadata.output_dtype) == ("fp16", "uint8")
    pixels = page_pixels(page["grids"][0])
    assert pixels.shape == (9, 16, 16, 1) and pixels.std() > 20
    assert_close(pixels, gen.to_uint8(gen.generate(9, seed=4)))


@needs_browser
def test_int8_export_runs_in_the_page_on_wasm(browser_run):
    """``--web --quantize int8``: the page runs the QDQ graph (QuantizeLinear/DequantizeLinear
    around Conv, which onnxruntime fuses into QLinearConv) in onnxruntime-web's WASM backend
    and draws what onnxruntime's CPU kernels draw."""
    tmp, pages, _, _ = browser_run
    page = pages[4]
    assert page["ready"]["ok"], page
    assert not page["consoleErrors"], page["consoleErrors"]
    # where the browser has WebGPU, a float page asks it for an adapter; an int8 page does not
    assert page["backendText"].startswith("Running on WASM (CPU; int8 model"), page["backendText"]
    assert not page["gpuAsked"] and pages[3]["gpuAsked"]
    assert "WebGPU but no GPU adapter" in pages[3]["backendText"]
    assert "int8" in page["about"]
    model = tmp / "www" / "int8" / "generator.onnx"
    assert model.read_bytes() == (tmp / "int8" / "generator.onnx").read_bytes()
    ops = {node.op_type for node in onnx.load(str(model)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv", "DepthToSpace"} <= ops
    assert "ConvTranspose" not in ops
    site = json.loads((tmp / "www" / "int8" / "model.json").read_text())
    assert site["precision"] == "int8" and json.loads(site["calibration"])["count"] == 16
    gen = Generator(model, device="cpu", threads=1)
    # 7-bit weights (reduce_range) keep onnxruntime's AVX2 int8 sums from saturating: with
    # 8-bit ones this CPU drew pixels up to 59 levels from the page's
    assert_close(page_pixels(page["grids"][0]), to_uint8(gen.generate(16, seed=5)), levels=4)
    timing = page["timing"]
    assert timing["loadMs"] > 0 and len(timing["runs"]) == 4  # the first grid and 3 more
    assert all(ms > 0 for ms in timing["runs"])


@needs_browser
def test_page_without_its_model_says_so(browser_run):
    _, pages, _, _ = browser_run
    page = pages[2]
    assert not page["ready"]["ok"] and page["state"] == "error"
    assert page["statusVisible"] and page["canvases"] == 0
    assert "generator.onnx is missing (HTTP 404)" in page["status"]
    assert "ganzoo export RUN --web DIR" in page["status"]
