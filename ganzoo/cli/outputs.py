"""Reading a run: ``ganzoo sample``, ``eval``, ``export`` and the torch-free ``generate``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ganzoo.cli.app import app
from ganzoo.errors import GanzooError

OUTPUT_HELP = ("Where the images go: a .png grid, a folder (one PNG per image, the layout "
               "torch-fidelity and clean-fid read; a rerun finishes an interrupted one), an "
               ".npz (uint8 NHWC 'images', and 'labels' for a conditional generator), or a "
               ".gif with --interpolate.")
# Options 'sample' (torch) and 'generate' (onnxruntime) share, as they share their outputs.
Count = Annotated[int, typer.Option("-n", help="Number of images (walks with --interpolate).")]
Output = Annotated[Path, typer.Option("--output", "-o", help=OUTPUT_HELP)]
ClassIndex = Annotated[int | None, typer.Option(
    "--class", help="Class index for conditional generators.")]
Truncation = Annotated[float | None, typer.Option(
    metavar="PSI", help="Truncation psi: redraw latent elements beyond +-psi (more typical, "
    "less varied images; 1 is typical). Recorded with the images.")]
Interpolate = Annotated[int | None, typer.Option(
    metavar="K", help="Write a looped GIF in which each of the -n cells walks (slerp) through "
    "K seeded latents; frame 0 is the grid -o x.png would hold.")]
Frames = Annotated[int, typer.Option(help="With --interpolate: frames from one latent to the "
                                     "next.")]
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
    frames: Frames = 16,
    fps: Fps = 16.0,
    nrow: Nrow = None,
    precision: Annotated[str, typer.Option(
        help="auto (bf16 + channels_last where the CPU/GPU has bf16), fp32 (bit-comparable "
        "with the ONNX export) or bf16.")] = "auto",
    device: Device = "auto",
) -> None:
    """Sample a run's EMA generator (or pretrained weights): grid, PNG folder, .npz or walk GIF."""
    import torch

    from ganzoo.config import SAMPLE_PRECISIONS
    from ganzoo.devices import choose_fast_path, resolve_device
    from ganzoo.host import get_table
    from ganzoo.images import to_uint8
    from ganzoo.loading import load_generator
    from ganzoo.sampling import generate_from

    kind = _check_output(output, n, nrow, truncation, interpolate, frames)
    if precision not in SAMPLE_PRECISIONS:
        raise GanzooError(f"--precision must be {', '.join(SAMPLE_PRECISIONS[:-1])} or "
                          f"{SAMPLE_PRECISIONS[-1]}, got {precision!r}")
    dev = resolve_device(device)
    fast = choose_fast_path(precision, dev)
    table = get_table()
    resolved = _resolve(run, table)
    G, info = load_generator(resolved.path, table=table, device=str(dev))
    if fast.channels_last:
        G = G.to(memory_format=torch.channels_last)
    cfg = info["generator_config"]

    def draw(z, labels):
        images = generate_from(G, z, labels, batch=256, device=dev, fast=fast)
        return to_uint8(images.numpy())

    about = {"source": run, "arch": info["arch"], "step": info["step"], "precision": fast.precision}
    _write(kind, output, draw, n=n, nz=cfg.nz, num_classes=cfg.num_classes, seed=seed,
           class_index=class_, truncation=truncation, about=about, nrow=nrow,
           keys=interpolate, frames=frames, fps=fps,
           done=f"step {info['step']}, {fast.precision}")


def _check_output(output: Path, n: int, nrow: int | None, truncation: float | None,
                  interpolate: int | None, frames: int) -> str:
    """The kind of ``-o`` (grid, folder, npz, gif), after every check that needs no model."""
    from ganzoo.image_files import check_request, output_kind
    from ganzoo.images import check_nrow
    from ganzoo.latents import check_truncation

    kind = output_kind(output)
    check_request(kind, n, output, interpolate)
    check_nrow(nrow)
    check_truncation(truncation)
    if interpolate is not None and interpolate < 2:
        raise GanzooError(f"--interpolate needs at least 2 latents to walk between, got "
                          f"{interpolate}")
    if frames < 1:
        raise GanzooError(f"--frames must be at least 1, got {frames}")
    return kind


def _write(kind: str, output: Path, draw, *, n: int, nz: int, num_classes: int, seed: int,
           class_index: int | None, truncation: float | None, about: dict, nrow: int | None,
           keys: int | None, frames: int, fps: float, done: str) -> None:
    """Draw and write ``-o`` with a progress bar on a terminal; an interrupted folder says
    how to finish it."""
    from ganzoo.image_files import FOLDER, GIF, Request, count_pngs, write_samples
    from ganzoo.latents import check_seed

    request = Request(n=n, nz=nz, num_classes=num_classes, seed=check_seed(seed),
                      class_index=class_index, truncation=truncation, info=about)
    total = keys * frames if kind == GIF else n
    what = "frames" if kind == GIF else "images"
    try:
        with typer.progressbar(length=total, label=f"{what} for {output}", file=sys.stderr,
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
    elif kind == GIF:
        typer.echo(f"wrote {path} ({drawn} frames of {n} walks through {keys} latents, {done})")
    else:
        typer.echo(f"wrote {path} ({n} images, {done})")


# -- eval ------------------------------------------------------------------------------------


@app.command("eval")
def eval_(
    run: Annotated[str, typer.Argument(
        metavar="RUN",
        help="A run folder made by 'ganzoo train', a generator.safetensors (with --data), a "
        "hub folder or a pretrained tag (its dataset is the default reference).")],
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
    from ganzoo.devices import resolve_device
    from ganzoo.host import get_table
    from ganzoo.metrics.scoring import evaluate
    from ganzoo.store.run import append_metrics

    if batch < 1:
        raise GanzooError(f"--batch must be at least 1, got {batch}")
    options = {}
    if inception_weights is not None:
        if extractor.split(":")[-1] != "inception":
            raise GanzooError("--inception-weights is for --extractor inception; drop it or "
                              "add --extractor inception")
        options["weights"] = str(inception_weights)
    table = get_table()
    resolved = _resolve(run, table)
    run = resolved.path
    data = data or (resolved.dataset if run.is_file() else None)
    with typer.progressbar(length=n, label=f"drawing {n} images", file=sys.stderr,
                           hidden=not sys.stderr.isatty()) as bar:
        result = evaluate(run, table=table, metrics=metrics, n=n, extractor=extractor,
                          seed=seed, data=data, checkpoint=checkpoint,
                          device=resolve_device(device), extractor_options=options, batch=batch,
                          progress=bar.update)
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
    run: Annotated[str, typer.Argument(
        metavar="RUN",
        help="A run folder made by 'ganzoo train', a generator.safetensors, a hub folder or a "
        "pretrained tag such as dcgan.fmnist.")],
    out: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Folder for generator.safetensors + generator.onnx "
        "(default: RUN/export; ./TAG for a pretrained tag).")] = None,
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
    subpixel: Annotated[bool | None, typer.Option(
        "--subpixel/--no-subpixel", help="Rewrite ConvTranspose2d as Conv + DepthToSpace in "
        "the graph (exact; default: with --quantize only, where it lets every layer run in "
        "int8).")] = None,
    quantize: Annotated[str | None, typer.Option(
        "--quantize", help="int8: static QDQ quantization calibrated on the generator's own "
        "latents; its quality cost against float32 is measured and stored.")] = None,
    calibration: Annotated[int | None, typer.Option(
        help="With --quantize: latents to calibrate on (default 256).")] = None,
    calibration_seed: Annotated[int | None, typer.Option(
        help="With --quantize: latent seed of the calibration set.")] = None,
    quality_n: Annotated[int | None, typer.Option(
        "--quality-n", help="With --quantize: latents the quality cost is measured on "
        "(default 1000).")] = None,
    hub: Annotated[Path | None, typer.Option(
        "--hub", help="Write a hub-ready folder here: the two files plus config.json and a "
        "README.md model card (upload it as it is; 'ganzoo sample DIR' reads it).")] = None,
    license_: Annotated[str | None, typer.Option(
        "--license", help="With --hub: the model card's licence (default: a pretrained "
        "tag's, else 'other').")] = None,
) -> None:
    """Export the EMA generator to safetensors + ONNX, checked against torch with onnxruntime."""
    from ganzoo.export import export_generator
    from ganzoo.export import quantize as int8
    from ganzoo.host import get_table

    given = [name for name, value in (("--calibration", calibration),
                                      ("--calibration-seed", calibration_seed),
                                      ("--quality-n", quality_n)) if value is not None]
    if given and quantize is None:
        raise GanzooError(f"{', '.join(given)} only matter with --quantize int8; add "
                          "--quantize int8 or drop them")
    if ort_web is not None and web is None:
        raise GanzooError("--ort-web only matters with --web DIR; add --web or drop --ort-web")
    if hub is not None and out is not None:
        raise GanzooError("--hub DIR is where the files go; drop -o/--output")
    if license_ is not None and hub is None:
        raise GanzooError("--license only matters with --hub DIR; add --hub or drop --license")
    table = get_table()
    resolved = _resolve(run, table)
    source = resolved.path
    if hub is not None:
        out = hub
    elif out is None and not Path(run).exists():  # a tag or hf://: not into the cache
        from ganzoo.fileio import safe_filename

        out = Path(safe_filename(run.split(":")[-1].replace("hf://", ""), "export"))
    if web is not None:
        from ganzoo.export.web import find_ort_web

        ort_web = find_ort_web(ort_web)  # before the export, so a missing one fails fast
    result = export_generator(
        source, out, table=table, fp16=fp16, uint8=uint8, opset=opset, checkpoint=checkpoint,
        subpixel=subpixel, quantize=quantize,
        calibration=int8.DEFAULT_CALIBRATION if calibration is None else calibration,
        calibration_seed=(int8.DEFAULT_CALIBRATION_SEED if calibration_seed is None
                          else calibration_seed),
        quality_count=int8.DEFAULT_QUALITY_COUNT if quality_n is None else quality_n,
        quality=_fd_fmnist, log=lambda line: typer.echo(line, err=True))
    m = result.metadata
    typer.echo(f"wrote {result.safetensors_path}")
    typer.echo(f"wrote {result.onnx_path} ({m.arch}, step {m.step}, {m.precision}, "
               f"{m.output_layout} {m.output_dtype}, opset {opset}, exporter {result.exporter}, "
               f"{m.subpixel} sub-pixel layers, fp32 max abs error "
               f"{result.parity.max_abs_error:.3g})")
    if result.quality is not None:
        from ganzoo.export.bundle import describe_quality

        typer.echo(f"int8 quality cost: {describe_quality(result.quality)}")
    if hub is not None:
        from ganzoo.export.hub import write_hub_folder

        folder = write_hub_folder(result, source=source, entry=resolved.entry,
                                  license=license_ or "")
        typer.echo(f"wrote {folder} (hub folder: config.json, README.md model card)")
    if web is not None:
        from ganzoo.export.web import export_web

        page = export_web(result.onnx_path, web, ort_web)
        typer.echo(f"wrote {page} (serve it: python -m http.server -d {web}; then open "
                   "http://localhost:8000)")


def _resolve(run: str, table):
    """The local run folder or generator file ``run`` names (a tag is fetched, verified)."""
    from ganzoo.weights import resolve_generator

    return resolve_generator(run, table=table, log=lambda line: typer.echo(line, err=True))


def _fd_fmnist(reference, images):
    """fd-fmnist of ``images`` against ``reference`` (float32 NCHW in [-1, 1]), or why not."""
    if reference.shape[1] != 1:
        return (f"the images have {reference.shape[1]} channels; the fmnist extractor takes 1, "
                "so fd-fmnist was not measured")
    import numpy as np
    import torch

    from ganzoo.data.dataset import ImageData
    from ganzoo.host import get_table
    from ganzoo.images import to_uint8
    from ganzoo.metrics.scoring import score_images

    pixels = np.ascontiguousarray(to_uint8(reference).transpose(0, 3, 1, 2))
    data = ImageData(torch.from_numpy(pixels), source="the float32 graph's images")
    result = score_images(torch.from_numpy(images), data, table=get_table(), metrics="fd",
                          extractor="fmnist", use_cache=False)
    return dict(result.scores)


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
    frames: Frames = 16,
    fps: Fps = 16.0,
    nrow: Nrow = None,
    device: Device = "auto",
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all "
                                                "usable cores).")] = None,
) -> None:
    """Generate images with onnxruntime only (no torch): the outputs and images of 'sample'."""
    from ganzoo.runtime import Generator

    kind = _check_output(output, n, nrow, truncation, interpolate, frames)
    gen = Generator(model, device=device, threads=threads)
    meta = gen.metadata

    def draw(z, labels):
        return gen.to_uint8(gen.run(z, labels))

    about = {"source": str(model), "arch": meta.arch, "step": meta.step}
    _write(kind, output, draw, n=n, nz=meta.nz, num_classes=meta.num_classes, seed=seed,
           class_index=class_, truncation=truncation, about=about, nrow=nrow,
           keys=interpolate, frames=frames, fps=fps,
           done=f"{meta.arch} step {meta.step}, {gen.provider}")

