"""Every error type of ganzoo; :class:`GanzooError` is the one the CLI prints as one line."""

from __future__ import annotations


class GanzooError(Exception):
    """A problem with the user's input or environment: the message says what and how to fix it.

    The CLI prints it as a single line and exits with status 2 (``--debug`` shows the traceback).
    """


class UnknownComponentError(GanzooError, KeyError):
    """A name that no plugin provides (arch, loss, dataset, ...)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AmbiguousNameError(GanzooError):
    """A short name provided by more than one plugin."""


class PluginAPIError(GanzooError):
    """A plugin written for plugin API versions this ganzoo does not provide."""


class Diverged(GanzooError):
    """A loss or a parameter became NaN or Inf."""
