"""Export a trained generator: ``generator.safetensors`` + ``generator.onnx``, parity-checked.

:func:`export_generator` is what ``ganzoo export`` runs. Importing this package stays torch-free
(the runtime reads :mod:`ganzoo.export.metadata`); the torch-side modules load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExportResult", "export_generator"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ganzoo.export import bundle

        return getattr(bundle, name)
    raise AttributeError(f"module 'ganzoo.export' has no attribute {name!r}")
