"""The ``ganzoo`` command line: the typer app and one module per command group."""

# each module adds its commands; the import order is the order 'ganzoo --help' lists them
from ganzoo.cli import samples  # noqa: F401

# isort: split
from ganzoo.cli import outputs, plugins, report, train, zoo  # noqa: F401
from ganzoo.cli.app import app, main

__all__ = ["app", "main"]
