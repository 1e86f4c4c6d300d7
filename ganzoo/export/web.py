"""``ganzoo export --web DIR``: a static site that runs the generator in the browser.

The site is plain files, served by anything (``python -m http.server``), with no CDN and no
server-side inference: ``index.html`` + ``ganzoo.js`` (the page, with a JavaScript port of the
``ganzoo-normal/1`` latent sampler, so a seed gives the images ``ganzoo generate`` gives),
``generator.onnx``, ``model.json`` (its ganzoo metadata, which onnxruntime-web cannot read from
the model) and ``ort/``: the onnxruntime-web build that runs on WebGPU or, without it, WASM.
The model is the export's own graph. With ``--quantize int8`` that is the int8 graph, which
the page runs on WASM: onnxruntime-web fuses it into int8 QLinearConv kernels, which its WebGPU
backend lacks, and it drew 1.4-1.6x faster than float32 there (benchmarks/web_inference.py).

onnxruntime-web is not vendored in ganzoo: it comes from its npm package at export time
(:func:`find_ort_web`), so the site gets the version the user installed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from importlib import resources
from pathlib import Path

from ganzoo.errors import GanzooError
from ganzoo.store.onnx_metadata import GeneratorMetadata

ORT_WEB_ENV = "GANZOO_ORT_WEB"
# The WebGPU build of onnxruntime-web: one script and the one WASM binary it loads, which runs
# the 'webgpu' and the 'wasm' (CPU) execution providers alike.
ORT_SCRIPT = "ort.webgpu.min.js"
ORT_RUNTIME = ("ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")
ORT_FILES = (ORT_SCRIPT, *ORT_RUNTIME)
TEMPLATE_FILES = ("index.html", "ganzoo.js")
MODEL_NAME = "generator.onnx"
METADATA_NAME = "model.json"
_HOW_TO_GET = ("install it with 'npm install onnxruntime-web' (it lands in "
               "./node_modules/onnxruntime-web/dist), then pass that folder with --ort-web or "
               f"the {ORT_WEB_ENV} environment variable")


def _dist_candidates(path: Path) -> list[Path]:
    """``path`` itself, or the dist folder of the package it (or a node_modules in it) holds."""
    return [path, path / "dist", path / "onnxruntime-web" / "dist",
            path / "node_modules" / "onnxruntime-web" / "dist"]


def _has_runtime(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ORT_FILES)


def find_ort_web(path: str | os.PathLike | None = None) -> Path:
    """The ``dist`` folder of onnxruntime-web, or a GanzooError saying how to get one.

    Looked for in ``path`` (``--ort-web``), else ``$GANZOO_ORT_WEB``, else ``./node_modules``;
    each may name the dist folder, the package folder or a folder holding ``node_modules``.
    """
    if path is not None or os.environ.get(ORT_WEB_ENV):
        given = Path(path if path is not None else os.environ[ORT_WEB_ENV]).expanduser()
        where = "--ort-web" if path is not None else ORT_WEB_ENV
        if not given.exists():
            raise GanzooError(f"{where} {given} does not exist; {_HOW_TO_GET}")
    else:
        given, where = Path.cwd(), "the current folder"
    for folder in _dist_candidates(given):
        if _has_runtime(folder):
            return folder
    if any((folder / ORT_SCRIPT).is_file() for folder in _dist_candidates(given)):
        raise GanzooError(f"the onnxruntime-web in {where} ({given}) lacks "
                          f"{' or '.join(ORT_RUNTIME)}; this ganzoo needs onnxruntime-web "
                          "1.22 or newer: 'npm install onnxruntime-web@latest'")
    raise GanzooError(f"onnxruntime-web was not found in {where} ({given}); {_HOW_TO_GET}")


def _site_metadata(meta: GeneratorMetadata) -> dict:
    values = dataclasses.asdict(meta)
    values["config"] = meta.generator_config()
    values["model"] = MODEL_NAME
    return values


def export_web(onnx_path: str | os.PathLike, site: str | os.PathLike,
               ort_web: str | os.PathLike | None = None) -> Path:
    """Write the static site for exported ``onnx_path`` into folder ``site``; returns
    ``site/index.html``. ``ort_web`` is where onnxruntime-web is (see :func:`find_ort_web`)."""
    import onnx

    dist = find_ort_web(ort_web)
    onnx_path, site = Path(onnx_path), Path(site)
    if site.exists() and not site.is_dir():
        raise GanzooError(f"--web {site} is a file; give a folder for the web page")
    model = onnx.load(str(onnx_path), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    meta = GeneratorMetadata.from_props(props, str(onnx_path))
    try:
        (site / "ort").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(onnx_path, site / MODEL_NAME)
        (site / METADATA_NAME).write_text(
            json.dumps(_site_metadata(meta), indent=2, sort_keys=True) + "\n")
        template = resources.files("ganzoo.export") / "web_template"
        for name in TEMPLATE_FILES:
            (site / name).write_bytes((template / name).read_bytes())
        for name in ORT_FILES:
            shutil.copyfile(dist / name, site / "ort" / name)
    except OSError as exc:
        raise GanzooError(f"cannot write the web page into {site} ({exc}); check the folder "
                          "is writable and has space") from exc
    return site / "index.html"
