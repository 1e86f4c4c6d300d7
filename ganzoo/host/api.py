"""Plugin API versions: the range a plugin declares, parsed, and checked against ganzoo's.

A plugin may declare the plugin API versions it supports as a module attribute
``GANZOO_PLUGIN_API`` (``1``, ``(1, 2)`` or ``"1..2"``); outside that range it is reported as
failed, with the versions and the fix, instead of being half-loaded.
"""

from __future__ import annotations

import re
from typing import Any

from ganzoo.errors import PluginAPIError
from ganzoo.hooks import PLUGIN_API
from ganzoo.version import __version__


def parse_api_range(declared: Any) -> tuple[int, int]:
    """``1`` / ``(1, 2)`` / ``"1..2"`` -> (low, high); a PluginAPIError says how to write it."""

    def whole(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and x >= 1

    if whole(declared):
        return declared, declared
    if isinstance(declared, (tuple, list)) and len(declared) == 2 and all(map(whole, declared)):
        low, high = declared
        if low <= high:
            return low, high
    if isinstance(declared, str):
        match = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", declared)
        if match:
            low = int(match.group(1))
            high = int(match.group(2) or low)
            if 1 <= low <= high:
                return low, high
    raise PluginAPIError(f"declares GANZOO_PLUGIN_API = {declared!r}; write the supported "
                         "plugin API versions as an int (1), a (low, high) tuple ((1, 2)) or "
                         "a string ('1..2')")


def check_api(plugin: object, distribution: str, version: str) -> str:
    """The API range ``plugin`` declares ("" if none); a PluginAPIError if ours is outside it."""
    declared = getattr(plugin, "GANZOO_PLUGIN_API", None)
    if declared is None:
        return ""
    low, high = parse_api_range(declared)
    text = str(low) if low == high else f"{low}..{high}"
    if low <= PLUGIN_API <= high:
        return text
    if low > PLUGIN_API:
        fix = f"upgrade ganzoo, or pin {distribution}<{version}"
    else:
        fix = (f"upgrade {distribution} to a release for plugin API {PLUGIN_API}, "
               "or use an older ganzoo")
    raise PluginAPIError(f"needs plugin API {text}, this ganzoo ({__version__}) "
                         f"provides {PLUGIN_API}; {fix}")
