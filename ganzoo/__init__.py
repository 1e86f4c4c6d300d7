"""ganzoo: a plugin-based GAN model zoo with one training core and ONNX export."""

__version__ = "0.1.0"

from ganzoo.errors import GanzooError  # noqa: E402
from ganzoo.hooks import PLUGIN_API, hookimpl  # noqa: E402


def __getattr__(name: str):
    # Heavy (torch-importing) API is loaded on first use, so `import ganzoo` stays light
    # and `ganzoo.runtime` can be used without torch.
    lazy = {
        "create_generator": "ganzoo.models",
        "create_discriminator": "ganzoo.models",
        "load_generator": "ganzoo.models",
        "resolve_recipe": "ganzoo.config",
        "get_registry": "ganzoo.plugins",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")


def list_components(kind: str, pattern: str = "*") -> list[str]:
    """Full names of registered components of ``kind`` matching a wildcard, e.g. ``"*gan*"``."""
    from ganzoo.plugins import get_registry

    return [c.full_name for c in get_registry().components(kind, pattern)]


def list_architectures(pattern: str = "*") -> list[str]:
    return list_components("architecture", pattern)


def list_recipes(pattern: str = "*") -> list[str]:
    return list_components("recipe", pattern)


def list_losses(pattern: str = "*") -> list[str]:
    return list_components("loss", pattern)


__all__ = [
    "PLUGIN_API",
    "GanzooError",
    "__version__",
    "create_discriminator",
    "create_generator",
    "hookimpl",
    "list_architectures",
    "list_components",
    "list_losses",
    "list_recipes",
    "load_generator",
    "resolve_recipe",
]
