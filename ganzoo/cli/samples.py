"""Drawing images: ``ganzoo sample`` (torch) and the torch-free ``ganzoo generate``, which
share their options and outputs (a grid, a PNG folder, an .npz, a looped GIF or MP4 walk)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ganzoo.cli.app import app, resolve_run
from ganzoo.errors import GanzooError

OUTPUT_HELP = ("Where the images go: a .png grid, a folder (one PNG per image, the layout "
               "torch-fidelity and clean-fid read; a rerun finishes an interrupted one), an "
               ".npz (uint8 NHWC 'images', and 'labels' for a conditional generator), or with "
               "--interpolate a .gif or an .mp4 (H.264; needs the video extra: PyAV).")
Count = Annotated[int, typer.Option("-n", help="Number of images (walks with --interpolate).")]
Output = Annotated[Path, typer.Option("--output", "-o", help=OUTPUT_HELP)]
ClassIndex = Annotated[int | None, typer.Option(
    "--class", help="Class index for conditional generators.")]
Truncation = Annotated[float | None, typer.Option(
    metavar="PSI", help="Truncation psi: redraw latent elements beyond +-psi (more typical, "
    "less varied images; 1 is typical). Recorded with the images.")]
Interpolate = Annotated[int | None, typer.Option(
    metavar="K", help="Write a looped walk (-o x.gif or x.mp4) in which each of the -n cells "
    "walks (slerp) through K seeded latents; frame 0 is the grid -o x.png would hold.")]
Frames = Annotated[int, typer.Option(help="With --interpolate: frames from one latent (or "
                                     "class) to the next.")]
Fps = Annotated[float, typer.Option(help="With --interpolate: frames per second.")]
Nrow = Annotated[int | None, typer.Option(help="Images per grid row.")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]


@app.command()
def sample(
    run: Annotated[str, typer.Argument(
        metavar="RUN",
        help="A run folder made by 'ganzoo train', a generator.safetensors, a hub folder "
        "('ganzoo export --hub'), hf://OWNER/REPO, or a pretrained tag such as dcgan.fmnist "
        "('ganzoo zoo list --pretrained').")],
    n: Count = 64,
    output: Output = Path("samples.png"),
    seed: Annotated[int, typer.Option(help="Latent seed (the same images as 'ganzoo generate' "
                                      "gives an export of this run).")] = 0,
    class_: ClassIndex = None,
    truncation: Truncation = None,
    interpolate: Interpolate = None,
    class_walk: Annotated[bool, typer.Option(
        "--class-walk", help="With --interpolate K, conditional generators: each cell keeps "
        "its latent and walks through K classes instead (cell i from class i % classes, or "
        "from --class, through the next K-1 in turn and back), blending the class "
        "embeddings; K = the number of classes shows them all.")] = False,
    frames: Frames = 16,
    fps: Fps = 16.0,
    nrow: Nrow = None,
    precision: Annotated[str, typer.Option(
        help="auto (bf16 + channels_last where the CPU/GPU has bf16, else fp32 + "
        "channels_last on a CPU), fp32 (NCHW, bit-comparable with the ONNX export) or "
        "bf16.")] = "auto",
    device: Device = "auto",
) -> None:
    """Sample a run's EMA generator (or pretrained weights): grid, PNG folder, .npz or a
    looped walk (.gif, .mp4) through latents or classes."""
    import torch

    from ganzoo.config import SAMPLE_PRECISIONS
    from ganzoo.devices import choose_fast_path, resolve_device
    from ganzoo.host import get_table
    from ganzoo.images import to_uint8
    from ganzoo.latents import check_class_walk
    from ganzoo.loading import load_generator
    from ganzoo.sampling import generate_from

    kind = _check_output(output, n, nrow, truncation, interpolate, frames, fps, class_walk)
    if precision not in SAMPLE_PRECISIONS:
        raise GanzooError(f"--precision must be {', '.join(SAMPLE_PRECISIONS[:-1])} or "
                          f"{SAMPLE_PRECISIONS[-1]}, got {precision!r}")
    dev = resolve_device(device)
    fast = choose_fast_path(precision, dev, sampling=True)
    table = get_table()
    resolved = resolve_run(run, table)
    G, info = load_generator(resolved.path, table=table, device=str(dev))
    cfg = info["generator_config"]
    if class_walk:
        check_class_walk(cfg.num_classes, interpolate or 0)
        if not getattr(G, "soft_labels", False):
            raise GanzooError(f"--class-walk blends class embeddings, and the {info['arch']} "
                              "generator takes integer labels only (it does not declare "
                              "soft_labels = True; docs/hooks.md): drop --class-walk to walk "
                              "through latents")
    if fast.channels_last:
        G = G.to(memory_format=torch.channels_last)

    def draw(z, labels):  # labels: ints [N], or class weights [N, classes] in a class walk
        images = generate_from(G, z, labels, batch=256, device=dev, fast=fast)
        return to_uint8(images.numpy())

    about = {"source": run, "arch": info["arch"], "step": info["step"], "precision": fast.precision}
    _write(kind, output, draw, n=n, nz=cfg.nz, num_classes=cfg.num_classes, seed=seed,
           class_index=class_, truncation=truncation, about=about, nrow=nrow,
           keys=interpolate, class_walk=class_walk, frames=frames, fps=fps,
           done=f"step {info['step']}, {fast.precision}")


def _check_output(output: Path, n: int, nrow: int | None, truncation: float | None,
                  interpolate: int | None, frames: int, fps: float,
                  class_walk: bool = False) -> str:
    """The kind of ``-o`` (grid, folder, npz, gif, mp4), after every check that needs no
    model (an .mp4 without PyAV included)."""
    from ganzoo.image_files import check_request, output_kind
    from ganzoo.images import check_nrow
    from ganzoo.latents import check_truncation
    from ganzoo.video import check_fps

    kind = output_kind(output)
    check_request(kind, n, output, interpolate, class_walk=class_walk)
    check_nrow(nrow)
    check_truncation(truncation)
    if interpolate is not None and interpolate < 2:
        raise GanzooError(f"--interpolate needs at least 2 latents to walk between, got "
                          f"{interpolate}")
    if frames < 1:
        raise GanzooError(f"--frames must be at least 1, got {frames}")
    check_fps(fps)
    return kind


def _write(kind: str, output: Path, draw, *, n: int, nz: int, num_classes: int, seed: int,
           class_index: int | None, truncation: float | None, about: dict, nrow: int | None,
           keys: int | None, frames: int, fps: float, done: str,
           class_walk: bool = False) -> None:
    """Draw and write ``-o`` with a progress bar on a terminal; an interrupted folder says
    how to finish it."""
    from ganzoo.image_files import FOLDER, WALKS, Request, count_pngs, write_samples
    from ganzoo.latents import check_seed

    request = Request(n=n, nz=nz, num_classes=num_classes, seed=check_seed(seed),
                      class_index=class_index, truncation=truncation, info=about,
                      class_walk=class_walk)
    walk = kind in WALKS
    total = keys * frames if walk else n
    try:
        with typer.progressbar(length=total, label=f"{'frames' if walk else 'images'} for "
                               f"{output}", file=sys.stderr,
                               hidden=not sys.stderr.isatty()) as bar:
            path, drawn = write_samples(kind, output, request, draw, nrow=nrow, keys=keys or 0,
                                        frames=frames, fps=fps, progress=bar.update)
    except KeyboardInterrupt:
        if kind != FOLDER:
            raise
        typer.echo(f"interrupted: {output} holds {count_pngs(output)} of {n} images; run the "
                   "same command again to write the rest", err=True)
        raise typer.Exit(130) from None
    if kind == FOLDER:
        kept = n - drawn
        typer.echo(f"wrote {path}/ ({drawn} images" + (f", {kept} already there" if kept else "")
                   + f", {done})")
    elif walk:
        through = "classes" if class_walk else "latents"
        typer.echo(f"wrote {path} ({drawn} frames of {n} walks through {keys} {through}, "
                   f"{done})")
    else:
        typer.echo(f"wrote {path} ({n} images, {done})")


@app.command()
def generate(
    model: Annotated[Path, typer.Argument(metavar="MODEL.onnx",
                                          help="A generator.onnx made by 'ganzoo export'.")],
    n: Count = 64,
    output: Output = Path("generated.png"),
    seed: Annotated[int, typer.Option(help="Latent seed (as for 'ganzoo sample').")] = 0,
    class_: ClassIndex = None,
    truncation: Truncation = None,
    interpolate: Interpolate = None,
    class_walk: Annotated[bool, typer.Option("--class-walk", hidden=True)] = False,
    frames: Frames = 16,
    fps: Fps = 16.0,
    nrow: Nrow = None,
    device: Device = "auto",
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all "
                                                "usable cores).")] = None,
) -> None:
    """Generate images with onnxruntime only (no torch): the outputs and images of 'sample'
    (class walks need 'sample')."""
    if class_walk:
        # the graph takes integer labels; stepping classes would make a different walk from
        # the one 'sample' draws for the same command line, so there is none here
        beside = model.with_name("generator.safetensors")
        source = str(beside) if beside.is_file() else "RUN"
        raise GanzooError("--class-walk blends class embeddings inside the generator, and an "
                          "exported graph takes integer labels only: walk through classes "
                          f"with torch, 'ganzoo sample {source} --interpolate K --class-walk "
                          "-o walk.gif'")
    from ganzoo.runtime import Generator

    kind = _check_output(output, n, nrow, truncation, interpolate, frames, fps)
    gen = Generator(model, device=device, threads=threads)
    meta = gen.metadata

    def draw(z, labels):
        return gen.to_uint8(gen.run(z, labels))

    about = {"source": str(model), "arch": meta.arch, "step": meta.step}
    _write(kind, output, draw, n=n, nz=meta.nz, num_classes=meta.num_classes, seed=seed,
           class_index=class_, truncation=truncation, about=about, nrow=nrow,
           keys=interpolate, frames=frames, fps=fps,
           done=f"{meta.arch} step {meta.step}, {gen.provider}")
