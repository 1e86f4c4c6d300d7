"""``ganzoo export RUN --hub DIR``: the exported files plus ``config.json`` and a model card,
a folder to upload to a model hub as it is (:mod:`ganzoo.store.hub` describes it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganzoo.components import Weights
from ganzoo.errors import GanzooError
from ganzoo.export.bundle import ExportResult
from ganzoo.fileio import atomic_write, atomic_write_json
from ganzoo.store.hub import CARD_NAME, CONFIG_NAME, GENERATOR_NAME, HUB_FORMAT, ONNX_NAME
from ganzoo.store.run import read_config


def last_scores(run_dir: Path) -> tuple[dict[str, float], str]:
    """The newest fd-* scores in a run's metrics.jsonl and their protocol, in one line."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return {}, ""
    found: tuple[dict[str, float], str] = ({}, "")
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        scores = record.get("eval") if isinstance(record, dict) else None
        if isinstance(scores, dict):
            fd = {k: float(v) for k, v in scores.items()
                  if k.startswith(("fd-", "fid")) and not k.endswith("-std")
                  and isinstance(v, (int, float))}
            if fd:
                found = (fd, describe_protocol(record.get("protocol") or {}))
    return found


def describe_protocol(p: dict[str, Any]) -> str:
    """One line saying how a score was measured (from an eval record's ``protocol``)."""
    if not p:
        return ""
    reference = p.get("reference") or {}
    return (f"{p.get('n_fake', '?')} generated vs {p.get('n_real', '?')} reference images "
            f"({reference.get('source', '?')}), extractor {p.get('extractor', '?')} sha256 "
            f"{str(p.get('extractor_sha256', ''))[:12]}, seed {p.get('seed', '?')}, step "
            f"{p.get('step', '?')}")


def hub_config(result: ExportResult, *, source: Path, entry: Weights | None,
               license: str) -> dict[str, Any]:
    """What ``config.json`` of a hub folder holds."""
    m = result.metadata
    config: dict[str, Any] = {
        "format": HUB_FORMAT, "library_name": "ganzoo", "architecture": m.arch,
        "recipe": m.recipe, "step": m.step, "config": json.loads(m.config),
        "image": {"channels": m.channels, "resolution": m.resolution, "range": [-1, 1],
                  "layout": "NCHW"},
        "num_classes": m.num_classes, "class_names": [],
        "latent": {"nz": m.nz, "sampler": m.latent_sampler},
        "onnx": {"file": ONNX_NAME, "inputs": m.inputs.split(","), "precision": m.precision,
                 "output_layout": m.output_layout, "output_dtype": m.output_dtype,
                 "output_range": m.output_range},
        "generator_sha256": m.safetensors_sha256, "dataset": "", "command": "",
        "metrics": {}, "protocol": "", "license": license, "ganzoo_version": m.ganzoo_version,
    }
    if entry is not None:
        config.update(dataset=entry.dataset, command=entry.command, metrics=dict(entry.scores),
                      protocol=entry.protocol, license=license or entry.license,
                      pretrained_tag=entry.name)
    elif source.is_dir():
        run = read_config(source)
        data = run["data"]
        scores, protocol = last_scores(source)
        config.update(dataset=data["spec"], class_names=list(data.get("class_names") or []),
                      metrics=scores, protocol=protocol)
    config["license"] = config["license"] or "other"
    return config


def model_card(config: dict[str, Any]) -> str:
    """README.md: YAML front matter a hub reads, then how to use the model."""
    name = config["recipe"] or config["architecture"]
    tags = ["ganzoo", "gan", "image-generation", "unconditional-image-generation"
            if not config["num_classes"] else "conditional-image-generation", "onnx",
            "safetensors"]
    front = ["---", "library_name: ganzoo", f"license: {json.dumps(config['license'])}",
             "tags:", *(f"- {t}" for t in tags)]
    if config["dataset"]:
        front += ["datasets:", f"- {json.dumps(config['dataset'])}"]
    if config["metrics"]:
        front += ["metrics:", *(f"- {json.dumps(k)}" for k in config["metrics"]),
                  "model-index:", f"- name: {json.dumps(name)}", "  results:",
                  "  - task:", "      type: unconditional-image-generation", "    metrics:"]
        for key, value in config["metrics"].items():
            front += [f"    - type: {json.dumps(key)}", f"      value: {value:.4g}",
                      f"      name: {json.dumps(key)}",
                      f"      args: {json.dumps(config['protocol'] or 'unspecified')}"]
    front.append("---")
    image = config["image"]
    scores = ", ".join(f"{k} {v:.4g}" for k, v in config["metrics"].items())
    classes = (f"{config['num_classes']} classes"
               + (f" ({', '.join(config['class_names'])})" if config["class_names"] else "")
               if config["num_classes"] else "unconditional")
    labels = ("\nlabels = np.arange(16, dtype=np.int64) % "
              f"{config['num_classes']}\nfeeds['labels'] = labels" if config["num_classes"]
              else "")
    shape = f"{image['channels']}x{image['resolution']}x{image['resolution']}"
    trained_on = f"on {config['dataset']}" if config["dataset"] else "(dataset unrecorded)"
    body = f"""
# {name}

A {config['architecture']} generator trained with ganzoo for {config['step']} steps
{trained_on}: {classes}, {shape} images in [-1, 1].
{f"Measured: {scores} ({config['protocol']})." if scores else ""}
{f"Trained with: `{config['command']}`" if config['command'] else ""}

Files: `{GENERATOR_NAME}` (weights and their config; sha256
`{config['generator_sha256']}`), `{ONNX_NAME}` ({config['onnx']['precision']} graph, inputs
{', '.join(config['onnx']['inputs'])}), `{CONFIG_NAME}` (what the generator is).

## Sample with ganzoo

```bash
pip install ganzoo
ganzoo sample THIS_FOLDER -n 64 -o grid.png        # or: ganzoo sample hf://OWNER/REPO
ganzoo generate THIS_FOLDER/{ONNX_NAME} -o grid.png  # onnxruntime only
```

```python
import ganzoo
G, info = ganzoo.load_generator("THIS_FOLDER")
```

## Sample with onnxruntime alone

Latents are {config['latent']['nz']}-d standard normal (`{config['latent']['sampler']}` in
ganzoo draws the same latents for the same seed everywhere; any normal sampler works).

```python
import numpy as np
import onnxruntime as ort

session = ort.InferenceSession("{ONNX_NAME}")
z = np.random.default_rng(0).standard_normal((16, {config['latent']['nz']})).astype(np.float32)
feeds = {{"z": z}}{labels}
images = session.run(None, feeds)[0]  # {config['onnx']['output_layout']} \
{config['onnx']['output_dtype']} in {config['onnx']['output_range']}
```
"""
    return "\n".join(front) + "\n" + body


def write_hub_folder(result: ExportResult, *, source: Path, entry: Weights | None = None,
                     license: str = "") -> Path:
    """Add ``config.json`` and ``README.md`` beside an export's two files."""
    folder = result.onnx_path.parent
    if result.safetensors_path.parent != folder:
        raise GanzooError("a hub folder needs generator.safetensors and generator.onnx "
                          "together; export into one folder")
    config = hub_config(result, source=source, entry=entry, license=license)
    atomic_write_json(folder / CONFIG_NAME, config)
    atomic_write(folder / CARD_NAME, model_card(config).encode())
    return folder


