"""Put a trained generator into a weights package as a pretrained tag.

    python scripts/package_weights.py RUN TAG [--fd X --protocol TEXT] [--package DIR]

RUN is a run folder (its EMA generator, latest checkpoint unless --checkpoint) or a
``generator.safetensors``. The generator is stored as fp16 safetensors in ganzoo's generator
file format (``PACKAGE/ganzoo_weights_*/TAG.safetensors``), checked to load back and draw the
same images as the float32 model within fp16 rounding, and its entry in ``weights.json`` is
added or replaced: sha256, size, steps, the training command, the recipe, the dataset, the
measured fd-fmnist with its protocol, the licence. Nothing is trained here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGE = ROOT / "plugins" / "ganzoo-weights-fmnist"
MAX_PACKAGE_BYTES = 20 * 1000 * 1000


def package_module(package: Path) -> Path:
    """The package's module folder: the one holding weights.json."""
    found = sorted(p.parent for p in package.glob("*/weights.json"))
    if len(found) != 1:
        raise SystemExit(f"{package}: expected exactly one MODULE/weights.json, found "
                         f"{len(found)}")
    return found[0]


def training_command(config: dict, table) -> str:
    """``ganzoo train ...`` that trains this run's recipe: config.json's own record if it has
    one, else the recipe name plus the settings that differ from the shipped recipe, checked
    to resolve to the same recipe."""
    if isinstance(config.get("command"), str) and config["command"]:
        return config["command"]
    from ganzoo.config import Override
    from ganzoo.recipes import resolve_recipe

    recipe = config["recipe"]
    name, train = recipe["name"], recipe["train"]
    settings = {"steps": train["steps"], "seed": train["seed"]}
    shipped = resolve_recipe(name, [Override.setting(f"train.{k}", v)
                                    for k, v in settings.items()], table=table).to_dict()
    command = f"ganzoo train --arch {name} " + " ".join(f"--{k} {v}" for k, v in
                                                        settings.items())
    spec = config["data"]["spec"]
    if spec != shipped["train"].get("dataset"):
        command += f" --data {spec}"
    mine = {**recipe, "train": {**train, "precision": None, "dataset": None}}
    theirs = {**shipped, "train": {**shipped["train"], "precision": None, "dataset": None}}
    for side in ("generator", "discriminator"):  # set from the data at run time
        for key in ("channels", "num_classes", "resolution"):
            mine[side] = {k: v for k, v in mine[side].items() if k != key}
            theirs[side] = {k: v for k, v in theirs[side].items() if k != key}
    if json.dumps(mine, sort_keys=True) != json.dumps(theirs, sort_keys=True):
        raise SystemExit(f"the run's recipe differs from '{name}' with {settings} (it was "
                         "trained with --set overrides); pass the exact command as --command")
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run folder or generator.safetensors")
    parser.add_argument("tag", help="e.g. dcgan.fmnist")
    parser.add_argument("--package", type=Path, default=DEFAULT_PACKAGE)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--fd", type=float, default=None, help="measured fd-fmnist (default: "
                        "the run's last fd-fmnist in metrics.jsonl)")
    parser.add_argument("--protocol", default=None, help="how --fd was measured")
    parser.add_argument("--command", default=None, help="the training command (default: "
                        "from config.json)")
    parser.add_argument("--dataset", default=None, help="default: the run's dataset")
    parser.add_argument("--license", default="MIT")
    parser.add_argument("--description", default="")
    parser.add_argument("--url", action="append", default=[],
                        help="a further source (https:// or hf://), repeatable")
    args = parser.parse_args(argv)

    import ganzoo
    from ganzoo.export.hub import last_scores
    from ganzoo.loading import load_generator, load_generator_file
    from ganzoo.sampling import generate_images
    from ganzoo.store.generator_file import generator_bytes
    from ganzoo.store.run import read_config
    from ganzoo.weights.catalog import CATALOG_FORMAT, read_catalog

    table = ganzoo.get_host().table
    G, info = load_generator(args.run, args.checkpoint, table=table)
    file = f"{args.tag}.safetensors"
    module = package_module(args.package)
    catalog_path = module / "weights.json"
    entries = [e for e in read_catalog(catalog_path) if e["tag"] != args.tag]

    config = read_config(args.run) if args.run.is_dir() else None
    fd, protocol = args.fd, args.protocol
    if fd is None and config is not None:
        scores, measured = last_scores(args.run)
        fd, protocol = scores.get("fd-fmnist"), protocol or measured
    if fd is None:
        print("warning: no fd-fmnist (pass --fd X --protocol TEXT); the entry has no score",
              file=sys.stderr)
    if fd is not None and not protocol:
        raise SystemExit("--fd needs --protocol: say how it was measured (n, reference, "
                         "extractor, seed)")
    command = args.command or (training_command(config, table) if config else "")
    dataset = args.dataset or (config["data"]["spec"] if config else "")

    data = generator_bytes(G, info["arch"], info["generator_config"], info["step"],
                           info["recipe_name"], half=True)
    old = module / file
    others = sum(p.stat().st_size for p in module.parent.rglob("*")
                 if p.is_file() and p != old and "__pycache__" not in p.parts)
    if others + len(data) > MAX_PACKAGE_BYTES:
        raise SystemExit(f"the package would be {(others + len(data)) / 1e6:.1f} MB, over the "
                         f"{MAX_PACKAGE_BYTES / 1e6:.0f} MB limit")
    from ganzoo.fileio import atomic_write, atomic_write_json

    atomic_write(module / file, data)
    # the fp16 file must load and draw what the float32 model draws, within fp16 rounding
    G16, _ = load_generator_file(module / file, table=table)
    cfg = info["generator_config"]
    with torch.no_grad():
        a = generate_images(G, 16, nz=cfg.nz, num_classes=cfg.num_classes, seed=0)
        b = generate_images(G16, 16, nz=cfg.nz, num_classes=cfg.num_classes, seed=0)
    error = float((a.float() - b.float()).abs().max())
    entry = {"tag": args.tag, "file": file, "sha256": hashlib.sha256(data).hexdigest(),
             "size": len(data), "recipe": info["recipe_name"], "dataset": dataset,
             "command": command, "steps": int(info["step"]),
             "scores": {"fd-fmnist": fd} if fd is not None else {},
             "protocol": protocol or "", "license": args.license,
             "description": args.description or f"{info['recipe_name']} on {dataset}, "
                                                 f"{info['step']} steps, fp16"}
    if args.url:
        entry["urls"] = list(args.url)
    entries.append(entry)
    entries.sort(key=lambda e: e["tag"])
    atomic_write_json(catalog_path, {"format": CATALOG_FORMAT, "weights": entries})
    print(f"wrote {module / file} ({len(data) / 1e6:.2f} MB, sha256 {entry['sha256'][:12]}, "
          f"fp16 vs fp32 max abs image error {error:.3g}) and its entry in {catalog_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
