"""What an exported generator says about itself, as ONNX ``metadata_props`` (all strings).

An app reads these with ``onnxruntime.InferenceSession(path).get_modelmeta()
.custom_metadata_map`` and needs nothing else: latent size, image shape, output layout and
range, classes, where the weights came from. Torch-free: :mod:`ganzoo.runtime` uses it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ganzoo.errors import GanzooError

FORMAT = "ganzoo-generator-onnx/1"
LAYOUTS = {"NCHW": ("float32", "-1,1"), "NHWC": ("uint8", "0,255")}


@dataclass(frozen=True)
class GeneratorMetadata:
    """The ``metadata_props`` of a ganzoo ``generator.onnx`` (keys are the field names)."""

    ganzoo_version: str
    arch: str
    recipe: str
    nz: int
    resolution: int
    channels: int
    num_classes: int
    step: int
    output_layout: str  # "NCHW" float32 in [-1, 1], or "NHWC" uint8 in [0, 255]
    output_dtype: str
    output_range: str
    precision: str  # "fp32", "fp16" or "int8" (inside the graph; inputs and outputs keep theirs)
    exporter: str  # which torch exporter produced the graph: dynamo, dynamo-unoptimized, ...
    latent_sampler: str  # see ganzoo.latents
    safetensors_sha256: str  # of the generator.safetensors exported alongside
    inputs: str = "z"  # "z" or "z,labels"
    config: str = "{}"  # the generator config as JSON
    # How many ConvTranspose2d became Conv + DepthToSpace (ganzoo.export.subpixel); 0 in files
    # from before sub-pixel export, which had none rewritten.
    subpixel: int = 0
    quantization: str = "none"  # "none", or JSON: mode, format, weights, activations, fp32 nodes
    calibration: str = ""  # JSON for a quantized graph: method, count, seed, latent sampler
    quality_cost: str = ""  # JSON for a quantized graph: its error against the fp32 graph
    format: str = FORMAT

    def to_props(self) -> dict[str, str]:
        return {f.name: str(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def output_shape(self, n: int) -> tuple[int, int, int, int]:
        c, r = self.channels, self.resolution
        return (n, c, r, r) if self.output_layout == "NCHW" else (n, r, r, c)

    def generator_config(self) -> dict[str, Any]:
        return json.loads(self.config)

    @property
    def quantized(self) -> bool:
        return self.quantization != "none"

    def quality(self) -> dict[str, Any]:
        """The measured quality cost of a quantized graph ({} for a float one)."""
        return json.loads(self.quality_cost) if self.quality_cost else {}

    @classmethod
    def from_props(cls, props: dict[str, str], where: str) -> GeneratorMetadata:
        """Parse ``metadata_props``; a GanzooError when they are not a ganzoo generator's."""
        if props.get("format") != FORMAT:
            found = f"format {props['format']!r}" if "format" in props else "no ganzoo metadata"
            raise GanzooError(
                f"{where} is an ONNX model but not a ganzoo generator ({found}); export one with "
                "'ganzoo export RUN', or run this model with onnxruntime directly")
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in props:
                if f.default is not dataclasses.MISSING:
                    continue
                raise GanzooError(f"{where}: ganzoo metadata lacks '{f.name}'; re-export it with "
                                  "'ganzoo export'")
            raw = props[f.name]
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise GanzooError(f"{where}: metadata '{f.name}' should be an integer, got "
                                      f"{raw!r}; re-export it with 'ganzoo export'") from None
            else:
                values[f.name] = raw
        meta = cls(**values)
        if meta.output_layout not in LAYOUTS or meta.nz < 1 or meta.channels < 1:
            raise GanzooError(f"{where}: inconsistent ganzoo metadata (layout "
                              f"{meta.output_layout!r}, nz {meta.nz}, channels {meta.channels}); "
                              "re-export it with 'ganzoo export'")
        return meta
