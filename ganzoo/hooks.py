"""The marker plugins use: ``@ganzoo.hookimpl`` (also importable as ``ganzoo.hooks.hookimpl``)."""

import pluggy

hookimpl = pluggy.HookimplMarker("ganzoo")

# Bumped when a hook's signature or the meaning of a registered component changes.
PLUGIN_API = 1
