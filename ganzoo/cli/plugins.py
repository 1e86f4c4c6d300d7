"""``ganzoo plugins list`` and ``ganzoo plugins new``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ganzoo.cli.app import plugins_app
from ganzoo.components import PLURALS


@plugins_app.command("list")
def plugins_list(
    all_: Annotated[bool, typer.Option("--all", help="Include the built-in plugin.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Installed plugins: distribution, version, status, hooks and what each provides."""
    from dataclasses import asdict

    from ganzoo.host import get_host

    host = get_host()
    statuses = [s for s in host.statuses if all_ or not s.builtin]
    if as_json:
        typer.echo(json.dumps([asdict(s) for s in statuses], indent=2))
        return
    _print_plugins(statuses)
    if not host.autoload:
        typer.echo("plugin autoloading is off (GANZOO_DISABLE_PLUGIN_AUTOLOAD is set): installed "
                   "plugins were not loaded; unset the variable to load them again")
    elif host.only is not None:
        typer.echo(f"only the plugins GANZOO_PLUGINS names were read "
                   f"({', '.join(sorted(host.only)) or 'none'}); unset it to load all")
    elif not statuses:
        typer.echo("no third-party plugins installed (--all shows the built-in one; "
                   "'ganzoo plugins new NAME' starts one)")


def _print_plugins(statuses: list) -> None:
    """One block per plugin: a headline, then aligned ``label  value`` lines."""
    colours = {"loaded": "green", "failed": "red", "disabled": "yellow"}
    for s in statuses:
        state = typer.style(s.status, fg=colours.get(s.status), bold=True)
        typer.echo(f"{typer.style(s.name, bold=True)}  {s.distribution} {s.version}  {state}")
        lines: list[tuple[str, str]] = []
        if s.error:
            lines.append(("reason", s.error))
        if s.plugin_api:
            lines.append(("plugin API", s.plugin_api))
        if s.hooks:
            lines.append(("hooks", ", ".join(s.hooks)))
        for kind, names in s.provides_by_kind.items():
            shown = [n + (f" (replaces {s.replaces[f'{kind} {n}']})"
                          if f"{kind} {n}" in s.replaces else "") for n in names]
            lines.append((PLURALS.get(kind, kind), ", ".join(shown)))
        if s.commands:
            lines.append(("commands", ", ".join(f"ganzoo {c}" for c in s.commands)))
        lines += [("clash", clash) for clash in s.clashes]
        lines += [("dropped", f"recipe {name}: {why}") for name, why in s.dropped.items()]
        width = max((len(label) for label, _ in lines), default=0)
        for label, value in lines:
            typer.echo(f"  {label:<{width}}  {value}")


@plugins_app.command("new")
def plugins_new(
    name: Annotated[str, typer.Argument(
        metavar="NAME", help="Plugin name, e.g. 'acme': writes ganzoo-acme/ with the module "
        "ganzoo_acme.")],
    directory: Annotated[Path, typer.Option("--dir", help="The parent folder: the package "
                                            "goes into DIR/ganzoo-NAME/ (DIR is created if "
                                            "missing).")] = Path("."),
) -> None:
    """Start a plugin: a package with an example architecture, recipe and test, ready to install."""
    from ganzoo.scaffold import new_plugin

    target = new_plugin(name, directory)
    shown = str(target) if target.is_absolute() else f"./{target}"  # pip needs a path-looking arg
    typer.echo(f"wrote {shown}\nnext:\n  pip install -e {shown}\n  ganzoo plugins list\n"
               f"  cd {shown} && python -m pytest")


