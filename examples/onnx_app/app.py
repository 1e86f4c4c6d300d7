"""A standalone app that runs a ganzoo generator.onnx: onnxruntime + numpy + Pillow, nothing else.

    pip install -r requirements.txt
    python app.py generator.onnx -n 16 -o grid.png --seed 0 [--class 3]

Everything the app needs comes from the model's metadata (latent size, classes, output layout).
The latent sampler below is ganzoo's ``ganzoo-normal/1`` re-implemented, so a seed gives the
same images as ``ganzoo sample RUN --seed S`` and ``ganzoo generate generator.onnx --seed S``.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image


def mix32(x: np.ndarray) -> np.ndarray:
    """ganzoo-normal/1's 32-bit integer hash, arithmetic modulo 2**32."""
    x = x.astype(np.uint32, copy=True)
    for shift, multiplier in ((17, 0xED5AD4BB), (11, 0xAC4C1B51), (15, 0x31848BAB)):
        x ^= x >> np.uint32(shift)
        x *= np.uint32(multiplier)
    return x ^ (x >> np.uint32(14))


def latents(n: int, nz: int, seed: int) -> np.ndarray:
    """[n, nz] float32 standard normals: hashed counters, then Box-Muller (ganzoo-normal/1)."""
    count = n * nz
    pairs = (count + 1) // 2
    key = mix32(np.array([seed ^ 0x9E3779B9], dtype=np.uint32))[0]
    words = mix32(mix32(np.arange(2 * pairs, dtype=np.uint32)) ^ key)
    words = words.astype(np.float64).reshape(pairs, 2)
    radius = np.sqrt(-2.0 * np.log((words[:, 0] + 0.5) / 2**32))
    angle = 2.0 * np.pi * words[:, 1] / 2**32
    values = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).reshape(-1)
    return values[:count].astype(np.float32).reshape(n, nz)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="generator.onnx written by 'ganzoo export'")
    parser.add_argument("-n", type=int, default=16, help="number of images")
    parser.add_argument("-o", "--output", default="grid.png", help="PNG grid to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--class", dest="class_index", type=int, default=None)
    args = parser.parse_args(argv)

    available = ort.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    session = ort.InferenceSession(args.model, providers=providers)
    meta = session.get_modelmeta().custom_metadata_map
    if "nz" not in meta:
        print(f"{args.model} has no ganzoo metadata; export it with 'ganzoo export'",
              file=sys.stderr)
        return 2
    nz, num_classes = int(meta["nz"]), int(meta["num_classes"])
    print(f"{meta['arch']} ({meta['recipe']}, step {meta['step']}): nz {nz}, "
          f"{meta['resolution']}px x {meta['channels']}, {num_classes} classes, output "
          f"{meta['output_layout']} {meta['output_dtype']} in [{meta['output_range']}]")

    feeds = {"z": latents(args.n, nz, args.seed)}
    if num_classes:
        feeds["labels"] = (np.full(args.n, args.class_index, dtype=np.int64)
                           if args.class_index is not None
                           else np.arange(args.n, dtype=np.int64) % num_classes)
    images = session.run(["images"], feeds)[0]
    if meta["output_layout"] == "NCHW":  # float in [-1, 1] -> uint8 NHWC
        images = np.clip(np.floor((images + 1.0) * 127.5 + 0.5), 0, 255)
        images = images.astype(np.uint8).transpose(0, 2, 3, 1)

    n, h, w, c = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * (h + 2) + 2, cols * (w + 2) + 2, c), dtype=np.uint8)
    for i, image in enumerate(images):
        y, x = 2 + (i // cols) * (h + 2), 2 + (i % cols) * (w + 2)
        grid[y:y + h, x:x + w] = image
    Image.fromarray(grid[..., 0] if c == 1 else grid).save(args.output)
    print(f"wrote {args.output} ({n} images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
