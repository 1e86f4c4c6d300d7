"""The ``ganzoo`` typer app, its error handling, and :func:`main`.

Each command group lives in a module of its own (:mod:`.train`, :mod:`.samples`,
:mod:`.outputs`, :mod:`.zoo`, :mod:`.plugins`) that adds its commands to :data:`app`. Commands
import what they run inside their bodies, so ``ganzoo --help`` and the torch-free
``ganzoo generate`` start fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from ganzoo.errors import GanzooError


def _flags_take_no_value() -> None:
    """typer labels every flag ``<bool>`` in ``--help``, as if it took a value; it takes none,
    so its type column stays empty (options with a value keep ``<int>``, ``<path>``, ...)."""
    option = getattr(getattr(typer, "core", None), "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if shown is None or getattr(shown, "_ganzoo", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag and self.metavar is None else shown(self, ctx)

    display_type_rich._ganzoo = True
    option.display_type_rich = display_type_rich


_flags_take_no_value()

app = typer.Typer(
    help="ganzoo: train, sample and export GANs from a plugin-based model zoo.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
zoo_app = typer.Typer(help="Browse the zoo: recipes, architectures, losses, datasets.",
                      no_args_is_help=True)
plugins_app = typer.Typer(help="Inspect installed plugins, or start a new one.",
                          no_args_is_help=True)
app.add_typer(zoo_app, name="zoo")
app.add_typer(plugins_app, name="plugins")

_state = {"debug": os.environ.get("GANZOO_DEBUG", "") == "1"}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    if debug:
        _state["debug"] = True


# -- entry point -----------------------------------------------------------------------------


# Built-in commands that run on onnxruntime alone: loading plugins would import torch.
TORCH_FREE_COMMANDS = {"generate"}


def _add_plugin_commands(args: list[str] | tuple[str, ...] = ()) -> None:
    if next((a for a in args if not a.startswith("-")), None) in TORCH_FREE_COMMANDS:
        return
    from ganzoo.cli.plugin_commands import add_commands
    from ganzoo.host import get_host

    add_commands(get_host(), app)


def _plugin_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of an installed third-party plugin's code that ``exc`` passed
    through (whatever it called: torch, or ganzoo's own layers), or None when it never left
    ganzoo and its libraries: then it is a bug in ganzoo."""
    from importlib import metadata

    own = Path(__file__).resolve().parent
    roots = []
    for ep in metadata.entry_points(group="ganzoo"):
        module = sys.modules.get(ep.module.partition(".")[0])  # not imported: cannot have raised
        if getattr(module, "__file__", None):
            path = Path(module.__file__).resolve()
            root = path.parent if path.name == "__init__.py" else path
            if not root.is_relative_to(own):
                roots.append(root)
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename).resolve()
        if any(path.is_relative_to(root) for root in roots):
            return frame
    return None


def resolve_run(run: str, table):
    """The local run folder or generator file a command's RUN names (a tag is fetched and
    verified)."""
    from ganzoo.weights import resolve_generator

    return resolve_generator(run, table=table, log=lambda line: typer.echo(line, err=True))


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a GanzooError becomes one line on stderr and exit status 2, and so does an
    exception raised in a third-party plugin's code (a bug in ganzoo keeps its traceback)."""
    args = sys.argv[1:] if argv is None else argv
    if "--debug" in args:
        _state["debug"] = True
    try:
        _add_plugin_commands(args)
        app(args=args, prog_name="ganzoo")  # exits by itself, except on a GanzooError
    except GanzooError as exc:
        if _state["debug"]:
            traceback.print_exc()
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        frame = _plugin_frame(exc)
        if frame is None:
            raise
        if _state["debug"]:
            traceback.print_exc()
        message = (str(exc).strip().splitlines() or [""])[0]
        more = "" if _state["debug"] else "; run with --debug for the traceback"
        typer.echo(f"error: plugin code failed: {type(exc).__name__}: {message} (in "
                   f"{frame.filename}:{frame.lineno}){more}", err=True)
        sys.exit(2)
