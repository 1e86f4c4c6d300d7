"""The plugin host: loads the built-in and installed plugins into one name table.

Build it once at an entry point (:func:`get_host` caches the process-wide one) and hand its
``table`` down; :func:`register_plugin` adds an in-process plugin object (tests, notebooks).
"""

from ganzoo.host.loader import (
    BUILTIN_MODULES,
    BUILTIN_PLUGIN,
    ENTRY_POINT_GROUP,
    PluginHost,
    PluginLoadError,
    PluginStatus,
    get_host,
    get_table,
    load_plugins,
    register_plugin,
    reset,
    unregister_plugin,
)

__all__ = [
    "BUILTIN_MODULES",
    "BUILTIN_PLUGIN",
    "ENTRY_POINT_GROUP",
    "PluginHost",
    "PluginLoadError",
    "PluginStatus",
    "get_host",
    "get_table",
    "load_plugins",
    "register_plugin",
    "reset",
    "unregister_plugin",
]
