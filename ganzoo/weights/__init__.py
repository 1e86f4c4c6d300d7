"""Pretrained weights: entries registered by tag (``register_weights``), fetched and verified
(:mod:`.sources`), resolved from what a user types (:mod:`.resolve`), and a package's catalog
file (:mod:`.catalog`)."""

from ganzoo.weights.catalog import register_weights_file
from ganzoo.weights.resolve import Resolved, resolve_generator
from ganzoo.weights.sources import fetch

__all__ = ["Resolved", "fetch", "register_weights_file", "resolve_generator"]
