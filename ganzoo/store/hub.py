"""A hub-ready folder (``ganzoo export RUN --hub DIR``): ``generator.safetensors``,
``generator.onnx``, ``config.json`` (what the generator is) and a ``README.md`` model card.

The folder is self-describing: ``config.json`` names the architecture, its config, the image
shape, the classes, the latent sampler and the sha256 of ``generator.safetensors``, so
``ganzoo sample DIR`` reads it without the run it came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError

HUB_FORMAT = "ganzoo-hub/1"
CONFIG_NAME = "config.json"
GENERATOR_NAME = "generator.safetensors"
ONNX_NAME = "generator.onnx"
CARD_NAME = "README.md"


def read_hub_config(folder: Path) -> dict[str, Any] | None:
    """The parsed ``config.json`` of a hub folder; None when ``folder`` is not one (a run
    folder's config.json has no ``format``)."""
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:
        raise GanzooError(f"{path} is not valid JSON ({type(exc).__name__}); it was edited or "
                          "damaged") from exc
    if not isinstance(config, dict) or config.get("format") != HUB_FORMAT:
        return None
    if not isinstance(config.get("generator_sha256"), str):
        raise GanzooError(f"{path} lacks 'generator_sha256'; write the folder again with "
                          "'ganzoo export RUN --hub DIR'")
    return config
