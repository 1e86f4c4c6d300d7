"""Export a trained generator: ``generator.safetensors`` + ``generator.onnx``, parity-checked.

:func:`export_generator` is what ``ganzoo export`` runs. The format an app reads back lives
below, in :mod:`ganzoo.store` (:mod:`ganzoo.store.onnx_metadata` is torch-free).
"""

from ganzoo.export.bundle import ExportResult, export_generator

__all__ = ["ExportResult", "export_generator"]
