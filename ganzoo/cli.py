"""The ``ganzoo`` command line (typer)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Annotated

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


# -- train -----------------------------------------------------------------------------------


@app.command()
def train(
    arch: Annotated[str | None, typer.Option("--arch", "-a", help="Recipe or architecture name "
                                             "(see 'ganzoo zoo list'; default dcgan).")] = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", "-s", help="Override a recipe value, e.g. train.lr=1e-4, generator.ngf=32, "
        "loss=hinge, 'regularizers=[r1]'. Repeatable.")] = None,
    data: Annotated[str | None, typer.Option(
        "--data", "-d", help="Dataset name, image folder, .npz or IDX file "
        "(default: the recipe's, the embedded Fashion-MNIST).")] = None,
    steps: Annotated[int | None, typer.Option(help="Train until this step.")] = None,
    batch: Annotated[int | None, typer.Option(help="Batch size per process.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (train.seed).")] = None,
    precision: Annotated[str | None, typer.Option(
        help="auto (bf16 where the CPU/GPU has it), fp32, bf16 or fp16.")] = None,
    accumulate: Annotated[int | None, typer.Option(
        help="Split each batch into N parts and accumulate gradients.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Run folder (default: RUNS_DIR/NAME-DATE-TIME).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where new run folders go.")] = Path("runs"),
    resume: Annotated[Path | None, typer.Option(
        help="Continue the run in this folder from its latest checkpoint.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    gpus: Annotated[int, typer.Option(
        help="Train on this many GPUs (launches torchrun for you).")] = 0,
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile G and D.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    eval_every: Annotated[int | None, typer.Option(
        "--eval-every", help="Score the EMA generator every N steps (fd/kd/pr, "
        "train.eval_extractor) and keep checkpoints/best.safetensors.")] = None,
    eval_n: Annotated[int | None, typer.Option(
        "--eval-n", help="Generated images per evaluation (train.eval_n).")] = None,
) -> None:
    """Train a GAN: `ganzoo train --arch dcgan` trains on the embedded Fashion-MNIST."""
    from ganzoo.train.launch import launch_torchrun, resume_run, start_run

    if gpus > 1:
        argv = [a for a in sys.argv[1:] if not a.startswith("--gpus")]
        if "--gpus" in sys.argv:  # "--gpus K" form: drop the value too
            i = sys.argv.index("--gpus")
            argv = sys.argv[1:i] + sys.argv[i + 2:]
        raise typer.Exit(launch_torchrun(gpus, argv))
    if resume is not None:
        given = [name for name, value in (("--set", overrides), ("--data", data),
                                          ("--batch", batch), ("--seed", seed),
                                          ("--precision", precision),
                                          ("--accumulate", accumulate),
                                          ("--eval-every", eval_every),
                                          ("--eval-n", eval_n))
                 if value is not None and value != []]
        if given:
            raise GanzooError(f"--resume continues a run exactly as configured; drop "
                              f"{', '.join(given)} (only --steps, --device, --compile may change)")
        if arch is not None:
            from ganzoo.train.run import read_config

            trained = read_config(resume)["recipe"]["name"]
            if arch.split(":")[-1] != trained.split(":")[-1]:
                raise GanzooError(f"--resume {resume}: that run trains '{trained}', not "
                                  f"'{arch}'; drop --arch or start a new run")
        with _report_interrupt():
            resume_run(resume, steps, device, quiet, compile_)
        return
    extra = list(overrides or [])
    for key, value in (("batch", batch), ("seed", seed), ("steps", steps),
                       ("precision", precision), ("accumulate", accumulate),
                       ("eval_every", eval_every), ("eval_n", eval_n)):
        if value is not None:
            extra.append(f"train.{key}={value}")
    with _report_interrupt():
        start_run(arch or "dcgan", extra, data, out, runs_dir, device, quiet, compile_)


@contextlib.contextmanager
def _report_interrupt():
    """SIGINT/SIGTERM make training save at a step boundary and raise; say where it saved and
    exit with 128 + the signal number (typer would turn it into a silent exit 130)."""
    from ganzoo.train.signals import TrainingInterrupted

    try:
        yield
    except TrainingInterrupted as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(exc.exit_code) from None


# -- sample ----------------------------------------------------------------------------------


@app.command()
def sample(
    run: Annotated[Path, typer.Argument(
        help="A run folder made by 'ganzoo train', or a generator.safetensors.")],
    n: Annotated[int, typer.Option("-n", help="Number of images.")] = 64,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path(
        "samples.png"),
    seed: Annotated[int, typer.Option(help="Latent seed (the same images as 'ganzoo generate' "
                                      "gives an export of this run).")] = 0,
    class_: Annotated[int | None, typer.Option(
        "--class", help="Class index for conditional generators.")] = None,
    nrow: Annotated[int | None, typer.Option(help="Images per grid row.")] = None,
    precision: Annotated[str, typer.Option(
        help="auto (bf16 + channels_last where the CPU/GPU has bf16), fp32 (bit-comparable "
        "with the ONNX export) or bf16.")] = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
) -> None:
    """Sample a grid of images from a run's EMA generator."""
    import numpy as np
    import torch

    from ganzoo.images import check_grid_count, save_grid
    from ganzoo.latents import class_labels, sample_latents
    from ganzoo.models import load_generator
    from ganzoo.train.loop import resolve_device
    from ganzoo.train.precision import choose_fast_path

    check_grid_count(n)
    if precision not in ("auto", "fp32", "bf16"):
        raise GanzooError(f"--precision must be auto, fp32 or bf16, got {precision!r}")
    dev = resolve_device(device)
    fast = choose_fast_path(precision, dev)
    G, info = load_generator(run, device=str(dev))
    if fast.channels_last:
        G = G.to(memory_format=torch.channels_last)
    cfg = info["generator_config"]
    labels = class_labels(n, cfg.num_classes, class_)
    z = torch.from_numpy(sample_latents(n, cfg.nz, seed)).to(dev)
    y = None if labels is None else torch.from_numpy(labels).to(dev)
    with torch.no_grad(), fast.autocast(dev):  # in batches: memory stays flat as -n grows
        parts = [G(z[i:i + 256], None if y is None else y[i:i + 256]).float().cpu().numpy()
                 for i in range(0, n, 256)]
    images = np.concatenate(parts)
    save_grid(images, output, nrow)
    typer.echo(f"wrote {output} ({n} images, step {info['step']}, {fast.precision})")


# -- eval ------------------------------------------------------------------------------------


@app.command("eval")
def eval_(
    run: Annotated[Path, typer.Argument(
        help="A run folder made by 'ganzoo train', or a generator.safetensors (with --data).")],
    metrics: Annotated[str, typer.Option(
        help="Comma-separated: fd (Frechet distance), kd (kernel distance), is (Inception "
        "score), pr (precision and recall).")] = "fd,kd,is,pr",
    n: Annotated[int, typer.Option("-n", help="Generated images to score.")] = 10000,
    extractor: Annotated[str, typer.Option(
        help="Feature extractor: fmnist (shipped, offline) or inception (real FID; needs "
        "--inception-weights), or a plugin's.")] = "fmnist",
    inception_weights: Annotated[Path | None, typer.Option(
        "--inception-weights", help="Local .safetensors conversion of pytorch-fid's "
        "pt_inception-2015-12-05-6726825d.pth (pass the .pth to be told how), or set "
        "GANZOO_INCEPTION_WEIGHTS.")] = None,
    seed: Annotated[int, typer.Option(help="Latent seed (and KD/PR subset seed).")] = 0,
    data: Annotated[str | None, typer.Option(
        "--data", "-d", help="Reference dataset (default: the one the run trained on).")] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        help="Score this checkpoint of the run instead of its latest.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch: Annotated[int, typer.Option(help="Images per forward pass.")] = 250,
    no_log: Annotated[bool, typer.Option(
        "--no-log", help="Do not append the record to the run's metrics.jsonl.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
) -> None:
    """Score a run's EMA generator against its dataset; every score carries its protocol."""
    from ganzoo.metrics.evaluate import evaluate
    from ganzoo.train.loop import resolve_device
    from ganzoo.train.run import append_metrics

    if batch < 1:
        raise GanzooError(f"--batch must be at least 1, got {batch}")
    options = {}
    if inception_weights is not None:
        if extractor.split(":")[-1] != "inception":
            raise GanzooError("--inception-weights is for --extractor inception; drop it or "
                              "add --extractor inception")
        options["weights"] = str(inception_weights)
    result = evaluate(run, metrics=metrics, n=n, extractor=extractor, seed=seed, data=data,
                      checkpoint=checkpoint, device=resolve_device(device),
                      extractor_options=options, batch=batch)
    record = result.record()
    if run.is_dir() and not no_log:
        append_metrics(run, record)
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    p = result.protocol
    typer.echo(f"{p['recipe']} step {p['step']}: {p['n_fake']} generated vs {p['n_real']} "
               f"reference images ({p['reference']['source']}), extractor {p['extractor']} "
               f"sha256 {p['extractor_sha256'][:12]}, seed {p['seed']}")
    width = max(len(k) for k in result.scores)
    for key, value in result.scores.items():
        if not key.endswith("-std"):
            std = result.scores.get(f"{key}-std")
            typer.echo(f"  {key:<{width}}  {value:.4f}" + (f" ± {std:.4f}" if std is not None
                                                           else ""))
    if run.is_dir() and not no_log:
        typer.echo(f"appended to {run / 'metrics.jsonl'}")


# -- export / generate -----------------------------------------------------------------------


@app.command()
def export(
    run: Annotated[Path, typer.Argument(
        help="A run folder made by 'ganzoo train', or a generator.safetensors.")],
    out: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Folder for generator.safetensors + generator.onnx "
        "(default: RUN/export).")] = None,
    fp16: Annotated[bool, typer.Option(
        "--fp16", help="float16 weights and maths inside the graph; z and images stay "
        "float32.")] = False,
    uint8: Annotated[bool, typer.Option(
        "--uint8", help="Output uint8 [N, H, W, C] pixels, post-processing baked in.")] = False,
    opset: Annotated[int, typer.Option(help="ONNX opset (18 or newer).")] = 18,
    checkpoint: Annotated[Path | None, typer.Option(
        help="Export this checkpoint of the run instead of its latest.")] = None,
    web: Annotated[Path | None, typer.Option(
        "--web", help="Also write a static web page into this folder that runs the generator "
        "in the browser (onnxruntime-web; serve it with 'python -m http.server').")] = None,
    ort_web: Annotated[Path | None, typer.Option(
        "--ort-web", help="With --web: where onnxruntime-web is (its dist folder, or a folder "
        "with node_modules; default: $GANZOO_ORT_WEB, else ./node_modules).")] = None,
) -> None:
    """Export the EMA generator to safetensors + ONNX, checked against torch with onnxruntime."""
    from ganzoo.export import export_generator

    if ort_web is not None and web is None:
        raise GanzooError("--ort-web only matters with --web DIR; add --web or drop --ort-web")
    if web is not None:
        from ganzoo.export.web import find_ort_web

        ort_web = find_ort_web(ort_web)  # before the export, so a missing one fails fast
    result = export_generator(run, out, fp16=fp16, uint8=uint8, opset=opset,
                              checkpoint=checkpoint, log=lambda line: typer.echo(line, err=True))
    m = result.metadata
    typer.echo(f"wrote {result.safetensors_path}")
    typer.echo(f"wrote {result.onnx_path} ({m.arch}, step {m.step}, {m.precision}, "
               f"{m.output_layout} {m.output_dtype}, opset {opset}, exporter {result.exporter}, "
               f"max abs error {result.parity.max_abs_error:.3g})")
    if web is not None:
        from ganzoo.export.web import export_web

        page = export_web(result.onnx_path, web, ort_web)
        typer.echo(f"wrote {page} (serve it: python -m http.server -d {web}; then open "
                   "http://localhost:8000)")


@app.command()
def generate(
    model: Annotated[Path, typer.Argument(help="A generator.onnx made by 'ganzoo export'.")],
    n: Annotated[int, typer.Option("-n", help="Number of images.")] = 64,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG grid to write.")] = Path(
        "generated.png"),
    seed: Annotated[int, typer.Option(help="Latent seed (as for 'ganzoo sample').")] = 0,
    class_: Annotated[int | None, typer.Option(
        "--class", help="Class index for conditional generators.")] = None,
    nrow: Annotated[int | None, typer.Option(help="Images per grid row.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all "
                                                "usable cores).")] = None,
) -> None:
    """Generate a grid of images with onnxruntime only (no torch), via ganzoo.runtime."""
    from ganzoo.images import check_grid_count, save_grid
    from ganzoo.runtime import Generator

    check_grid_count(n)
    gen = Generator(model, device=device, threads=threads)
    images = gen.generate(n, seed=seed, class_index=class_)
    save_grid(images, output, nrow, layout=gen.metadata.output_layout)
    typer.echo(f"wrote {output} ({n} images, {gen.metadata.arch} step {gen.metadata.step}, "
               f"{gen.provider})")


# -- zoo -------------------------------------------------------------------------------------

KIND_ALIASES = {
    "recipes": "recipe", "recipe": "recipe",
    "architectures": "architecture", "architecture": "architecture", "archs": "architecture",
    "losses": "loss", "loss": "loss",
    "regularizers": "regularizer", "regularizer": "regularizer",
    "datasets": "dataset", "dataset": "dataset",
    "extractors": "feature_extractor", "feature-extractors": "feature_extractor",
    "feature_extractor": "feature_extractor",
}


@zoo_app.command("list")
def zoo_list(
    pattern: Annotated[str, typer.Argument(help="Wildcard filter, e.g. '*gan*'.")] = "*",
    kind: Annotated[str, typer.Option(help="recipes, architectures, losses, regularizers, "
                                      "datasets, extractors or all.")] = "recipes",
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
           "regularizer": "regularizers", "dataset": "datasets",
           "feature_extractor": "feature extractors"}


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
        table.add_column("description", ratio=1, min_width=16)
        for row in (r for r in rows if r["kind"] == k):
            cells = [row["name"]]
            if k == "recipe":
                g, d = (str(row[c]).split(":")[-1] for c in ("generator", "discriminator"))
                cells += [str(row["resolution"]), g if g == d else f"{g} / {d}",
                          str(row["loss"]).split(":")[-1]]
            if k == "regularizer":
                cells += [f"{row['weight']:g}", str(row["interval"])]
            extra = f"\n{row['companions']}" if row.get("companions") else ""
            source = " · ".join([row["full_name"].split(":")[0]]
                                + ([_short_paper(row["paper"])] if row["paper"] else []))
            cells += [f"{row['description']}{extra}\n[dim]{escape(source)}[/dim]"]
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

    host = get_host()
    statuses = [s for s in host.statuses if all_ or not s.builtin]
    if as_json:
        typer.echo(json.dumps([asdict(s) for s in statuses], indent=2))
        return
    _print_plugins(statuses)
    if not host.autoload:
        typer.echo("plugin autoloading is off (GANZOO_DISABLE_PLUGIN_AUTOLOAD is set): installed "
                   "plugins were not loaded; unset the variable to load them again")
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
        width = max((len(label) for label, _ in lines), default=0)
        for label, value in lines:
            typer.echo(f"  {label:<{width}}  {value}")


@plugins_app.command("new")
def plugins_new(
    name: Annotated[str, typer.Argument(help="Plugin name, e.g. 'acme': writes ganzoo-acme/ "
                                        "with the module ganzoo_acme.")],
    directory: Annotated[Path, typer.Option("--dir", help="Where to create the package "
                                            "folder.")] = Path("."),
) -> None:
    """Start a plugin: a package with an example architecture, recipe and test, ready to install."""
    from ganzoo.scaffold import new_plugin

    target = new_plugin(name, directory)
    shown = str(target) if target.is_absolute() else f"./{target}"  # pip needs a path-looking arg
    typer.echo(f"wrote {shown}\nnext:\n  pip install -e {shown}\n  ganzoo plugins list\n"
               f"  cd {shown} && python -m pytest")


# -- entry point -----------------------------------------------------------------------------


# Built-in commands that run on onnxruntime alone: loading plugins would import torch.
TORCH_FREE_COMMANDS = {"generate"}


def _add_plugin_commands(args: list[str] | tuple[str, ...] = ()) -> None:
    if next((a for a in args if not a.startswith("-")), None) in TORCH_FREE_COMMANDS:
        return
    from ganzoo.plugins import add_commands

    add_commands(app)


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
