"""ganzoo: a plugin-based GAN model zoo with one training core and ONNX export.

This module is the Python API's entry point: its functions build the process-wide plugin host
on first use (:func:`get_host`) and hand its name table down. Everything below takes the
table as an argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganzoo.errors import GanzooError
from ganzoo.hooks import PLUGIN_API, hookimpl
from ganzoo.version import __version__

if TYPE_CHECKING:
    from torch import nn

    from ganzoo.components import NameTable
    from ganzoo.config import Override, ResolvedRecipe
    from ganzoo.host import PluginHost


def get_host() -> PluginHost:
    """The process-wide plugin host: built-ins and installed plugins, loaded on first use."""
    from ganzoo.host import get_host as host

    return host()


def _table(table: NameTable | None) -> NameTable:
    return table if table is not None else get_host().table


def create_generator(arch: str, config: Any = None, table: NameTable | None = None) -> nn.Module:
    """A generator by architecture name (short or full) and config (dataclass or mapping)."""
    from ganzoo.build import create_generator as create

    return create(arch, config, table=_table(table))


def create_discriminator(arch: str, config: Any = None,
                         table: NameTable | None = None) -> nn.Module:
    """A discriminator by architecture name (short or full) and config."""
    from ganzoo.build import create_discriminator as create

    return create(arch, config, table=_table(table))


def load_generator(run_dir: Any, checkpoint: Any = None, device: str = "cpu",
                   table: NameTable | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The EMA generator of a run folder, a ``generator.safetensors``, a hub folder, an
    ``hf://`` reference or a pretrained tag (``"dcgan.fmnist"``, fetched and verified on first
    use), in eval mode, and what it is (see :func:`ganzoo.loading.load_generator`)."""
    from ganzoo.loading import load_generator as load
    from ganzoo.weights import resolve_generator

    names = _table(table)
    resolved = resolve_generator(run_dir, table=names)
    G, info = load(resolved.path, checkpoint, table=names, device=device)
    if resolved.entry is not None:
        info["weights"] = resolved.entry
    return G, info


def resolve_recipe(name: str, overrides: list[str | Override] | None = None,
                   table: NameTable | None = None) -> ResolvedRecipe:
    """What ``ganzoo train --arch NAME --set ...`` trains, typed and checked."""
    from ganzoo.recipes import resolve_recipe as resolve

    return resolve(name, overrides or (), table=_table(table))


def list_components(kind: str, pattern: str = "*") -> list[str]:
    """Full names of registered components of ``kind`` matching a wildcard, e.g. ``"*gan*"``."""
    return [c.full_name for c in get_host().table.components(kind, pattern)]


def list_architectures(pattern: str = "*") -> list[str]:
    return list_components("architecture", pattern)


def list_recipes(pattern: str = "*") -> list[str]:
    return list_components("recipe", pattern)


def list_losses(pattern: str = "*") -> list[str]:
    return list_components("loss", pattern)


def list_pretrained(pattern: str = "*") -> list[str]:
    """Tags of the registered pretrained weights, e.g. ``list_pretrained("*.fmnist")``."""
    return list_components("weights", pattern)


__all__ = [
    "PLUGIN_API",
    "GanzooError",
    "__version__",
    "create_discriminator",
    "create_generator",
    "get_host",
    "hookimpl",
    "list_architectures",
    "list_components",
    "list_losses",
    "list_pretrained",
    "list_recipes",
    "load_generator",
    "resolve_recipe",
]
