"""Reading a run: ``ganzoo eval`` and ``ganzoo export`` (``sample`` and ``generate`` are in
:mod:`.samples`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ganzoo.cli.app import app, resolve_run
from ganzoo.errors import GanzooError

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
    from ganzoo.metrics.scoring import prepare_evaluation
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
    resolved = resolve_run(run, table)
    run = resolved.path
    data = data or (resolved.dataset if run.is_file() else None)
    job = prepare_evaluation(run, table=table, metrics=metrics, n=n, extractor=extractor,
                             seed=seed, data=data, checkpoint=checkpoint,
                             device=resolve_device(device), extractor_options=options,
                             batch=batch)
    label = f"drawing and scoring {n} images" + (
        "" if job.reference_cached else f" (+{len(job.reference.images)} reference)")
    # one bar over every image pass: drawing, then the extractor's (0: as wide as the terminal)
    with typer.progressbar(length=job.work, label=label, file=sys.stderr, width=0,
                           hidden=not sys.stderr.isatty()) as bar:
        result = job.run(progress=bar.update)
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


# -- export ----------------------------------------------------------------------------------


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
    resolved = resolve_run(run, table)
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
