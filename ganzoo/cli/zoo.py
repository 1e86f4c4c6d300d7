"""``ganzoo zoo list``: what the zoo offers, as a table or JSON."""

from __future__ import annotations

import json
import re
from typing import Annotated

import typer

from ganzoo.cli.app import zoo_app
from ganzoo.components import KINDS, PLURALS
from ganzoo.errors import GanzooError
from ganzoo.loss_params import DEFAULT_LOSS, loss_entry

KIND_ALIASES = {
    "recipes": "recipe", "recipe": "recipe",
    "architectures": "architecture", "architecture": "architecture", "archs": "architecture",
    "losses": "loss", "loss": "loss",
    "regularizers": "regularizer", "regularizer": "regularizer",
    "datasets": "dataset", "dataset": "dataset",
    "extractors": "feature_extractor", "feature-extractors": "feature_extractor",
    "feature_extractor": "feature_extractor",
    "pretrained": "weights", "weights": "weights",
}


@zoo_app.command("list")
def zoo_list(
    pattern: Annotated[str, typer.Argument(metavar="PATTERN",
                                           help="Wildcard filter, e.g. '*gan*'.")] = "*",
    kind: Annotated[str, typer.Option(help="recipes, architectures, losses, regularizers, "
                                      "datasets, extractors, pretrained or all.")] = "recipes",
    losses: Annotated[bool, typer.Option("--losses", help="Losses and regularizers.")] = False,
    pretrained: Annotated[bool, typer.Option(
        "--pretrained", help="Pretrained weights: tags usable wherever a run folder is "
        "('ganzoo sample TAG'), with their scores.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List what the zoo offers (recipes by default)."""
    from ganzoo.host import get_table

    if losses and pretrained:
        raise GanzooError("--losses and --pretrained list different things; give one")
    if losses:
        kinds = ["loss", "regularizer"]
    elif pretrained:
        kinds = ["weights"]
    elif kind == "all":
        kinds = list(KINDS)
    elif kind in KIND_ALIASES:
        kinds = [KIND_ALIASES[kind]]
    else:
        raise GanzooError(f"--kind {kind}: choose one of {', '.join(sorted(KIND_ALIASES))}, all")
    table = get_table()
    rows = []
    for k in kinds:
        for c in table.components(k, pattern):
            row = {"kind": k, "name": c.name, "full_name": c.full_name,
                   "plugin": c.distribution, "description": c.description,
                   "paper": getattr(c.value, "paper", "")}
            if k == "recipe":
                spec = c.value.spec
                loss, loss_params = loss_entry(spec.get("loss", DEFAULT_LOSS), c.full_name)
                row.update(generator=spec.get("generator", {}).get("arch"),
                           discriminator=spec.get("discriminator", {}).get("arch"),
                           loss=loss, loss_params=loss_params,
                           resolution=(spec.get("train") or {}).get("resolution", 32))
            elif k == "loss":
                row.update(companions=c.value.companions(), params=dict(c.value.params))
            elif k == "regularizer":
                row.update(weight=c.value.weight, interval=c.value.interval)
            elif k == "weights":
                w = c.value
                row.update(scores=dict(w.scores), protocol=w.protocol, recipe=w.recipe,
                           dataset=w.dataset, steps=w.steps, command=w.command,
                           license=w.license, file=w.file, size=w.size, sha256=w.sha256,
                           sources=list(w.sources))
            rows.append(row)
    for row in rows:  # a short name two plugins register resolves to neither: say so
        row["clash"] = _ambiguous(table, row["kind"], row["name"])
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    _print_table(rows, kinds)


def _ambiguous(table, kind: str, name: str) -> bool:
    from ganzoo.errors import AmbiguousNameError

    try:
        table.resolve(kind, name)
    except AmbiguousNameError:
        return True
    return False


def _parameters(row: dict) -> str:
    """``parameters: a 0 (float), ...`` for a loss row that has any ('' otherwise)."""
    params = row.get("params") or {}
    shown = ", ".join(f"{key} {value!r} ({type(value).__name__})" for key, value in params.items())
    return f"parameters (loss: {{name: {row['name']}, ...}}): {shown}" if shown else ""


def _short_paper(url: str) -> str:
    """``https://arxiv.org/abs/1511.06434`` -> ``arXiv:1511.06434`` (other links as they are)."""
    match = re.search(r"arxiv\.org/abs/([\w.]+)", url)
    return f"arXiv:{match[1]}" if match else url


def _print_table(rows: list[dict], kinds: list[str]) -> None:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    for k in kinds:
        table = Table(title=PLURALS[k], title_justify="left", box=box.SIMPLE_HEAD,
                      collapse_padding=True, pad_edge=False)
        table.add_column("name", style="bold", no_wrap=True)
        if k == "recipe":
            table.add_column("px", justify="right", no_wrap=True)
            table.add_column("G / D", no_wrap=True)
            table.add_column("loss", no_wrap=True)
        if k == "regularizer":
            table.add_column("weight", justify="right", no_wrap=True)
            table.add_column("every", justify="right", no_wrap=True)
        if k == "weights":
            table.add_column("scores", no_wrap=True)
            table.add_column("steps", justify="right", no_wrap=True)
            table.add_column("MB", justify="right", no_wrap=True)
        table.add_column("description", ratio=1, min_width=16)
        clashes = False
        for row in (r for r in rows if r["kind"] == k):
            cells = [f"{row['full_name']} [red]*[/red]" if row["clash"] else row["name"]]
            clashes |= row["clash"]
            if k == "recipe":
                g, d = (str(row[c]).split(":")[-1] for c in ("generator", "discriminator"))
                loss = str(row["loss"]).split(":")[-1]
                if row["loss_params"]:
                    loss += " (" + ", ".join(f"{key} {value}" for key, value
                                             in row["loss_params"].items()) + ")"
                cells += [str(row["resolution"]), g if g == d else f"{g} / {d}", loss]
            if k == "regularizer":
                cells += [f"{row['weight']:g}", str(row["interval"])]
            if k == "weights":
                cells += [", ".join(f"{key} {value:.2f}" for key, value in row["scores"].items())
                          or "-", str(row["steps"]), f"{row['size'] / 1e6:.1f}"]
            extra = "".join(f"\n{line}" for line in (_parameters(row), row.get("companions"))
                            if line)
            source = " · ".join([row["full_name"].split(":")[0]]
                                + ([_short_paper(row["paper"])] if row["paper"] else []))
            cells += [f"{row['description']}{extra}\n[dim]{escape(source)}[/dim]"]
            table.add_row(*cells)
        if clashes:
            table.caption = ("[red]*[/red] two plugins register this name: use the full name "
                             "(plugin:name)")
            table.caption_justify = "left"
        console.print(table)


