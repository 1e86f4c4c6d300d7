"""The ``ganzoo`` command line (typer)."""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import click
import typer

from ganzoo.errors import GanzooError

app = typer.Typer(
    help="ganzoo: train, sample and export GANs from a plugin-based model zoo.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
zoo_app = typer.Typer(help="Browse the zoo: recipes, architectures, losses, datasets.",
                      no_args_is_help=True)
plugins_app = typer.Typer(help="Inspect installed plugins.", no_args_is_help=True)
app.add_typer(zoo_app, name="zoo")
app.add_typer(plugins_app, name="plugins")

_state = {"debug": os.environ.get("GANZOO_DEBUG", "") == "1"}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    if debug:
        _state["debug"] = True


# -- train -----------------------------------------------------------------------------------


@app.command()
def train(
    arch: Annotated[str, typer.Option("--arch", "-a", help="Recipe or architecture name "
                                      "(see 'ganzoo zoo list').")] = "dcgan",
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", "-s", help="Override a recipe value, e.g. train.lr=1e-4, generator.ngf=32, "
        "loss=hinge, 'regularizers=[r1]'. Repeatable.")] = None,
    data: Annotated[str | None, typer.Option(
        "--data", "-d", help="Dataset name, image folder, .npz or IDX file "
        "(default: the recipe's, the embedded Fashion-MNIST).")] = None,
    steps: Annotated[int | None, typer.Option(help="Train until this step.")] = None,
    batch: Annotated[int | None, typer.Option(help="Batch size (train.batch).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (train.seed).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Run folder (default: RUNS_DIR/NAME-DATE-TIME).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where new run folders go.")] = Path("runs"),
    resume: Annotated[Path | None, typer.Option(
        help="Continue the run in this folder from its latest checkpoint.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Train a GAN: `ganzoo train --arch dcgan` trains on the embedded Fashion-MNIST."""
    from ganzoo.config import resolve_recipe
    from ganzoo.data import load_data
    from ganzoo.models import recipe_from_config, with_data_shape
    from ganzoo.train import train as run_training
    from ganzoo.train.loop import resolve_device
    from ganzoo.train.run import new_run_dir, read_config, versions, write_config

    dev = resolve_device(device)
    if resume is not None:
        config = read_config(resume)
        if overrides or data or batch or seed is not None:
            raise GanzooError("--resume continues a run exactly as configured; only --steps and "
                              "--device may be given with it")
        if arch != "dcgan" and arch.split(":")[-1] != config["recipe"]["name"].split(":")[-1]:
            raise GanzooError(f"--resume {resume}: that run trains '{config['recipe']['name']}', "
                              f"not '{arch}'; drop --arch or start a new run")
        recipe = recipe_from_config(config)
        images = load_data(config["data"]["spec"], recipe.train.resolution)
        _check_data_matches(config, images, resume)
        target = steps or recipe.train.steps
        _say(quiet, f"resuming {resume} to step {target} on {dev}")
        run_training(recipe, images, resume, dev, steps=target, resume=True,
                     show_progress=not quiet)
        _say(quiet, f"done: {resume}")
        return

    extra = list(overrides or [])
    if batch is not None:
        extra.append(f"train.batch={batch}")
    if seed is not None:
        extra.append(f"train.seed={seed}")
    if steps is not None:
        extra.append(f"train.steps={steps}")
    recipe = resolve_recipe(arch, extra)
    data_spec = data or recipe.train.dataset
    images = load_data(data_spec, recipe.train.resolution)
    recipe = with_data_shape(recipe, images.channels, images.num_classes)
    if recipe.train.conditional and not images.num_classes:
        raise GanzooError(f"recipe '{recipe.name}' is conditional but {data_spec} has no labels; "
                          "use a dataset with labels (a folder with one subfolder per class)")
    run_dir = out or new_run_dir(runs_dir, recipe.name)
    write_config(run_dir, {
        "recipe": recipe.to_dict(),
        "data": {"spec": data_spec if not Path(data_spec).exists()
                 else str(Path(data_spec).resolve()),
                 "source": images.source, "count": len(images), "channels": images.channels,
                 "num_classes": recipe.generator.num_classes, "class_names": images.class_names},
        "device": str(dev),
        "versions": versions(),
    })
    _say(quiet, f"training {recipe.name} with {_objective(recipe)} "
                f"on {images.source} ({len(images)} images, "
                f"{recipe.train.resolution}px) on {dev} -> {run_dir}")
    run_training(recipe, images, run_dir, dev, show_progress=not quiet)
    _say(quiet, f"done: {run_dir}  (samples in {run_dir / 'samples'}; "
                f"'ganzoo sample {run_dir} -o grid.png')")


def _objective(recipe) -> str:
    """What the D and G steps will run: the loss, its constraint, the active regularizers."""
    from ganzoo.plugins import get_registry
    from ganzoo.registry import describe_callable

    loss = get_registry().get("loss", recipe.loss)
    text = f"loss {recipe.loss}"
    if loss.after_d_step is not None:
        text += f" (after each D step: {describe_callable(loss.after_d_step)})"
    regs = [f"{r.name} weight {r.weight:g} every {r.interval}"
            for r in recipe.regularizers if r.weight != 0]
    return text + (f" + {', '.join(regs)}" if regs else "")


def _check_data_matches(config: dict, images, run: Path) -> None:
    want = config.get("data", {})
    if want.get("channels") not in (None, images.channels) or want.get("count") not in (
            None, len(images)):
        raise GanzooError(f"--resume {run}: the data at {want.get('spec')} changed since the run "
                          f"started ({want.get('count')} images with {want.get('channels')} "
                          f"channels then, {len(images)} with {images.channels} now)")


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        typer.echo(message, err=True)


# -- sample ----------------------------------------------------------------------------------


@app.command()
def sample(
    run: Annotated[Path, typer.Argument(help="A run folder made by 'ganzoo train'.")],
    n: Annotated[int, typer.Option("-n", help="Number of images.")] = 64,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path(
        "samples.png"),
    seed: Annotated[int, typer.Option(help="Latent seed.")] = 0,
    class_: Annotated[int | None, typer.Option(
        "--class", help="Class index for conditional generators.")] = None,
    nrow: Annotated[int | None, typer.Option(help="Images per grid row.")] = None,
) -> None:
    """Sample a grid of images from a run's EMA generator."""
    import torch

    from ganzoo.images import save_grid
    from ganzoo.models import load_generator

    if n < 1:
        raise GanzooError(f"-n must be at least 1, got {n}")
    G, info = load_generator(run)
    cfg = info["recipe"].generator
    labels = None
    if cfg.num_classes:
        if class_ is not None and not 0 <= class_ < cfg.num_classes:
            raise GanzooError(f"--class must be in 0..{cfg.num_classes - 1}, got {class_}")
        labels = (torch.full((n,), class_, dtype=torch.long) if class_ is not None
                  else torch.arange(n) % cfg.num_classes)
    elif class_ is not None:
        raise GanzooError(f"{run} is not class-conditional; drop --class")
    z = torch.randn(n, cfg.nz, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        images = G(z, labels).float().numpy()
    save_grid(images, output, nrow)
    typer.echo(f"wrote {output} ({n} images, step {info['step']})")


# -- zoo -------------------------------------------------------------------------------------

KIND_ALIASES = {
    "recipes": "recipe", "recipe": "recipe",
    "architectures": "architecture", "architecture": "architecture", "archs": "architecture",
    "losses": "loss", "loss": "loss",
    "regularizers": "regularizer", "regularizer": "regularizer",
    "datasets": "dataset", "dataset": "dataset",
}


@zoo_app.command("list")
def zoo_list(
    pattern: Annotated[str, typer.Argument(help="Wildcard filter, e.g. '*gan*'.")] = "*",
    kind: Annotated[str, typer.Option(help="recipes, architectures, losses, regularizers, "
                                      "datasets or all.")] = "recipes",
    losses: Annotated[bool, typer.Option("--losses", help="Losses and regularizers.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List what the zoo offers (recipes by default)."""
    from ganzoo.plugins import get_registry
    from ganzoo.registry import KINDS

    if losses:
        kinds = ["loss", "regularizer"]
    elif kind == "all":
        kinds = list(KINDS)
    elif kind in KIND_ALIASES:
        kinds = [KIND_ALIASES[kind]]
    else:
        raise GanzooError(f"--kind {kind}: choose one of {', '.join(sorted(KIND_ALIASES))}, all")
    registry = get_registry()
    rows = []
    for k in kinds:
        for c in registry.components(k, pattern):
            row = {"kind": k, "name": c.name, "full_name": c.full_name,
                   "plugin": c.distribution, "description": c.description,
                   "paper": getattr(c.value, "paper", "")}
            if k == "recipe":
                spec = c.value.spec
                row.update(generator=spec.get("generator", {}).get("arch"),
                           discriminator=spec.get("discriminator", {}).get("arch"),
                           loss=spec.get("loss", "bce-ns"),
                           resolution=(spec.get("train") or {}).get("resolution", 32))
            elif k == "loss":
                row.update(companions=c.value.companions())
            elif k == "regularizer":
                row.update(weight=c.value.weight, interval=c.value.interval)
            rows.append(row)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    _print_table(rows, kinds)


PLURALS = {"recipe": "recipes", "architecture": "architectures", "loss": "losses",
           "regularizer": "regularizers", "dataset": "datasets"}


def _print_table(rows: list[dict], kinds: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for k in kinds:
        table = Table(title=PLURALS[k], title_justify="left", show_lines=False)
        table.add_column("name", style="bold")
        if k == "recipe":
            for col in ("generator", "discriminator", "loss", "resolution"):
                table.add_column(col)
        if k == "regularizer":
            table.add_column("weight", justify="right")
            table.add_column("every", justify="right")
        table.add_column("description")
        table.add_column("from")
        for row in (r for r in rows if r["kind"] == k):
            cells = [row["name"]]
            if k == "recipe":
                cells += [str(row[c]) for c in ("generator", "discriminator", "loss", "resolution")]
            if k == "regularizer":
                cells += [f"{row['weight']:g}", str(row["interval"])]
            extra = f"\n{row['companions']}" if row.get("companions") else ""
            paper = f"\n{row['paper']}" if row["paper"] else ""
            cells += [row["description"] + extra + paper, row["full_name"]]
            table.add_row(*cells)
        console.print(table)


# -- plugins ---------------------------------------------------------------------------------


@plugins_app.command("list")
def plugins_list(
    all_: Annotated[bool, typer.Option("--all", help="Include the built-in plugin.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Installed plugins: distribution, version, status, hooks and what each provides."""
    from dataclasses import asdict

    from ganzoo.plugins import get_host

    statuses = [s for s in get_host().statuses if all_ or not s.builtin]
    if as_json:
        typer.echo(json.dumps([asdict(s) for s in statuses], indent=2))
        return
    if not statuses:
        typer.echo("no third-party plugins installed (--all shows the built-in one)")
        return
    for s in statuses:
        state = s.status + (f": {s.error}" if s.error else "")
        typer.echo(f"{s.name}  ({s.distribution} {s.version})  [{state}]")
        if s.hooks:
            typer.echo(f"  hooks: {', '.join(s.hooks)}")
        if s.provides:
            typer.echo(f"  provides: {', '.join(s.provides)}")


# -- entry point -----------------------------------------------------------------------------


def _add_plugin_commands() -> None:
    if os.environ.get("GANZOO_SKIP_PLUGIN_COMMANDS"):
        return
    from ganzoo.plugins import get_host

    get_host().pm.hook.register_commands(app=app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a GanzooError becomes one line on stderr and exit status 2."""
    args = sys.argv[1:] if argv is None else argv
    if "--debug" in args:
        _state["debug"] = True
    try:
        _add_plugin_commands()
        code = app(args=args, prog_name="ganzoo", standalone_mode=False)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except GanzooError as exc:
        if _state["debug"]:
            traceback.print_exc()
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
