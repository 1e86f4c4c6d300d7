"""``ganzoo train``: start, resume, or launch a run under torchrun."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from ganzoo.cli.app import app
from ganzoo.errors import GanzooError


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
    tensorboard: Annotated[bool, typer.Option(
        "--tensorboard", help="Also write TensorBoard event files (losses, scores, sample "
        "grids, the recipe) into RUN/tensorboard (train.tensorboard; needs the tensorboard "
        "extra). Open them with 'tensorboard --logdir RUN'.")] = False,
    init: Annotated[str | None, typer.Option(
        "--init", help="Fine-tune from trained weights: a run folder (G, its EMA copy and D "
        "from its latest checkpoint), or a pretrained tag (dcgan.fmnist), a hub folder or a "
        "generator.safetensors (these hold a generator only: D starts fresh). The optimizers, "
        "the step and the RNG always start fresh. Default --arch: the recipe the weights were "
        "trained with.")] = None,
) -> None:
    """Train a GAN: `ganzoo train --arch dcgan` trains on the embedded Fashion-MNIST."""
    from ganzoo.config import Override
    from ganzoo.host import get_table
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
                                          ("--eval-n", eval_n), ("--init", init))
                 if value is not None and value != []]
        if given:
            raise GanzooError(f"--resume continues a run exactly as configured; drop "
                              f"{', '.join(given)} (only --steps, --device, --compile and "
                              "--tensorboard may change)")
        if arch is not None:
            from ganzoo.store.run import read_config

            trained = read_config(resume)["recipe"]["name"]
            if arch.split(":")[-1] != trained.split(":")[-1]:
                raise GanzooError(f"--resume {resume}: that run trains '{trained}', not "
                                  f"'{arch}'; drop --arch or start a new run")
        with _report_interrupt():
            resume_run(resume, steps, device, table=get_table(), quiet=quiet, compile=compile_,
                       tensorboard=tensorboard)
        return
    settings: list[str | Override] = list(overrides or [])
    for key, value in (("batch", batch), ("seed", seed), ("steps", steps),
                       ("precision", precision), ("accumulate", accumulate),
                       ("eval_every", eval_every), ("eval_n", eval_n),
                       ("tensorboard", tensorboard or None)):
        if value is not None:
            settings.append(Override.setting(f"train.{key}", value))
    table = get_table()
    init_path = None
    if init is not None:
        from ganzoo.weights import resolve_generator

        resolved = resolve_generator(init, table=table,
                                     log=lambda line: typer.echo(line, err=True))
        init_path = resolved.path
        if arch is None:
            arch = ((resolved.entry.recipe if resolved.entry is not None else "")
                    or (resolved.hub or {}).get("recipe") or _file_recipe(init_path))
    with _report_interrupt():
        start_run(arch or "dcgan", settings, data, out, runs_dir, device, table=table,
                  quiet=quiet, compile=compile_, init=init_path, init_label=init)


def _file_recipe(path: Path) -> str | None:
    """The recipe a generator file (its metadata) or a run folder (its config.json) was
    trained with, when it is one; anything else is left to ``--init``'s own checks."""
    if path.is_dir():
        from ganzoo.store.run import read_config

        if not (path / "config.json").is_file():
            return None
        name = read_config(path)["recipe"].get("name")
        return name if isinstance(name, str) and name else None
    if not path.is_file():
        return None
    from ganzoo.store.generator_file import read_generator_file

    return read_generator_file(path)[1]["recipe"] or None


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


