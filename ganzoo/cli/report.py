"""``ganzoo report``: an HTML page of one or more runs (:mod:`ganzoo.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganzoo.cli.app import app
from ganzoo.errors import GanzooError


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(
        help="One or more run folders made by 'ganzoo train' (several: their curves overlay).",
        metavar="RUN...")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The HTML page to write, its figures beside it (default: "
        "RUN/report.html for one run, ./report.html for several).")] = None,
) -> None:
    """Write an HTML page with plots of one or more runs (opens in a browser, no server)."""
    from ganzoo.report import write_report

    for run in runs:
        if not (run / "config.json").is_file():
            raise GanzooError(f"{run} is not a ganzoo run (no config.json); pass folders "
                              "'ganzoo train' created")
    output = output or (runs[0] / "report.html" if len(runs) == 1 else Path("report.html"))
    page, figures = write_report(runs, output)
    typer.echo(f"wrote {page} ({len(figures)} figures beside it; open it in a browser)")
