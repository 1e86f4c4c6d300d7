"""The ``ganzoo`` command line: the typer app and one module per command group."""

from ganzoo.cli import outputs, plugins, report, train, zoo  # noqa: F401  (each adds its commands)
from ganzoo.cli.app import app, main

__all__ = ["app", "main"]
