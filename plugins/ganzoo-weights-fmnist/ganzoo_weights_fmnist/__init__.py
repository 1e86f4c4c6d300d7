"""Pretrained generators for ganzoo's embedded Fashion-MNIST, as data: ``weights.json`` lists
the entries (file, sha256, size, training command, steps, fd-fmnist and its protocol) and the
fp16 ``*.safetensors`` files sit beside it. ``scripts/package_weights.py`` in the ganzoo
repository writes both from a training run."""

from __future__ import annotations

from pathlib import Path

import ganzoo
from ganzoo.hooktypes import RegisterWeights

GANZOO_PLUGIN_API = 1
CATALOG = Path(__file__).resolve().parent / "weights.json"


@ganzoo.hookimpl
def register_weights(register: RegisterWeights) -> None:
    from ganzoo.weights import register_weights_file

    register_weights_file(register, CATALOG)
