"""Generation in the browser: the page ``ganzoo export --web`` writes, in headless Chromium on
onnxruntime-web's WASM backend, for the float32, sub-pixel float32, fp16 and int8 exports of
one DCGAN-64 generator (the one benchmarks/inference.py measures).

Each export gets its own site; the pages are visited in turn, ``--rounds`` times, each visit
in a fresh tab, so machine noise hits every export alike. The page's ``window.ganzoo.timings``
give the time to start onnxruntime-web with the model and the first run (medians over the
visits), and the median of the ``--repeat`` runs of ``--n`` images after it on every visit.
onnxruntime on the CPU with one thread, same images, is the reference (the page runs WASM on
one thread unless the site is cross-origin isolated: ``--isolated`` serves it with COOP/COEP
headers, and the page then uses up to 4 threads).
Needs what the browser tests need (scripts/test-deps.sh): chromium, node, and onnxruntime-web
+ playwright-core in .ci-cache/web/node_modules (or $GANZOO_WEB_NODE_MODULES).

    python benchmarks/web_inference.py --n 16 --rounds 3 --repeat 5
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).parent))
from inference import dcgan64  # noqa: E402

from ganzoo.export import export_generator  # noqa: E402
from ganzoo.export.web import export_web  # noqa: E402
from ganzoo.host import get_table  # noqa: E402
from ganzoo.latents import sample_latents  # noqa: E402
from ganzoo.runtime import Generator  # noqa: E402
from ganzoo.store.generator_file import generator_bytes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "helpers" / "web_driver.cjs"


def node_modules() -> Path:
    for folder in filter(None, [os.environ.get("GANZOO_WEB_NODE_MODULES"),
                                ROOT / ".ci-cache/web/node_modules", ROOT / "node_modules"]):
        if (Path(folder) / "onnxruntime-web/dist").is_dir():
            return Path(folder)
    raise SystemExit("onnxruntime-web + playwright-core not found: run scripts/test-deps.sh")


@contextlib.contextmanager
def serve(folder: Path, isolated: bool):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self):
            if isolated:
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            super().end_headers()

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def native_ms(path: Path, n: int, repeat: int) -> float:
    """Median ms of one run of ``n`` images on onnxruntime's CPU provider, one thread."""
    gen = Generator(path, device="cpu", threads=1, batch_size=n)
    z = sample_latents(n, gen.metadata.nz, 0)
    gen.run(z)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        gen.run(z)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="images per run (the page's ?n=)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per visit after the first")
    parser.add_argument("--rounds", type=int, default=3,
                        help="visits of each page, in turn, each in a fresh tab")
    parser.add_argument("--nz", type=int, default=100)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--calibration", type=int, default=256)
    parser.add_argument("--isolated", action="store_true",
                        help="serve with COOP/COEP headers (multi-threaded WASM)")
    args = parser.parse_args()
    chromium = os.environ.get("GANZOO_CHROMIUM") or shutil.which("chromium")
    node = shutil.which("node")
    if not chromium or not node:
        raise SystemExit("chromium and node are needed: run scripts/test-deps.sh")
    modules = node_modules()
    torch.manual_seed(0)
    G, config = dcgan64(args.nz, args.ngf, args.channels)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        st = tmp / "generator.safetensors"
        st.write_bytes(generator_bytes(G, "ganzoo:dcgan", config, 0, "dcgan-64"))
        exports = {
            "fp32": export_generator(st, tmp / "fp32", table=get_table()),
            "fp32 sub-pixel": export_generator(st, tmp / "sub", subpixel=True,
                                               table=get_table()),
            "fp16": export_generator(st, tmp / "fp16", fp16=True, table=get_table()),
            "int8": export_generator(st, tmp / "int8", quantize="int8", table=get_table(),
                                     calibration=args.calibration, quality_count=200),
        }
        sites = {}
        for name, result in exports.items():
            site = tmp / "www" / name.replace(" ", "-")
            export_web(result.onnx_path, site, modules / "onnxruntime-web" / "dist")
            sites[name] = site.name
        job = tmp / "job.json"
        with serve(tmp / "www", args.isolated) as url:
            job.write_text(json.dumps({"chromium": chromium, "pages": [
                {"url": f"{url}/{site}/?n={args.n}&seed=0&backend=wasm",
                 "timing": {"repeat": args.repeat}}
                for _ in range(args.rounds) for site in sites.values()]}))
            proc = subprocess.run([node, str(DRIVER), str(job)], capture_output=True, text=True,
                                  timeout=600, env={**os.environ, "NODE_PATH": str(modules)})
        if proc.returncode != 0:
            raise SystemExit(f"the web driver failed:\n{proc.stderr[-3000:]}")
        visits = json.loads(proc.stdout)["pages"]
        native = {name: native_ms(result.onnx_path, args.n, args.repeat)
                  for name, result in exports.items()}

        version = json.loads((modules / "onnxruntime-web" / "package.json").read_text())
        browser = subprocess.run([chromium, "--version"], capture_output=True, text=True)
        print(f"DCGAN-64 generator (nz {args.nz}, ngf {args.ngf}, {args.channels} channels), "
              f"{args.n} images per run, {args.rounds} visits x {args.repeat} runs after the "
              "first; "
              f"{browser.stdout.strip()}, onnxruntime-web {version['version']}, "
              f"{'cross-origin isolated' if args.isolated else 'not isolated (1 WASM thread)'}; "
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load "
              f"average {os.getloadavg()[0]:.1f}; onnxruntime {ort.__version__}\n")
        print("| export | model MB | backend | start ms | first run ms | run ms | images/s "
              "| x fp32 (WASM) | onnxruntime CPU 1 thread, images/s |")
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        base = None
        for i, (name, result) in enumerate(exports.items()):
            pages = visits[i::len(exports)]
            failed = [page["ready"].get("error") for page in pages if not page["ready"]["ok"]]
            if failed:
                print(f"| {name} | failed: {failed[0]} |")
                continue
            start = statistics.median(page["timing"]["loadMs"] for page in pages)
            first = statistics.median(page["timing"]["runs"][0] for page in pages)
            run = statistics.median(ms for page in pages for ms in page["timing"]["runs"][1:])
            base = base or run
            backend = pages[0]["backendText"].split(" (")[0].removeprefix("Running on ")
            print(f"| {name} | {result.onnx_path.stat().st_size / 1e6:.1f} | {backend} | "
                  f"{start:.0f} | {first:.0f} | {run:.0f} | {args.n * 1000 / run:.1f} | "
                  f"{base / run:.2f} | {args.n * 1000 / native[name]:.1f} |")


if __name__ == "__main__":
    main()
