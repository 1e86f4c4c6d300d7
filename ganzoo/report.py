"""``ganzoo report RUN [RUN ...]``: one HTML page to judge runs by looking.

The page holds the losses (smoothed, with the raw values faint), every score a run logged
(with its protocol: extractor and sample count), throughput and learning rates, each run's
sample grids over time as a strip, its recipe, and the checkpoints it keeps. Several runs
overlay their curves in one colour each, so which is better shows at a glance. The figures
are PNG files beside the page and also inside it (data URIs), so the page opens from
anywhere in a browser with no server. matplotlib draws them (the ``report`` extra), imported
only here.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganzoo.errors import GanzooError
from ganzoo.fileio import atomic_write
from ganzoo.store import checkpoint as ckpt
from ganzoo.store.run import read_config

STRIP_GRIDS = 8  # sample grids per run in its strip, evenly spaced over the run


@dataclass
class RunLog:
    """What one run folder says about itself."""

    path: Path
    name: str
    config: dict[str, Any]
    train: list[dict[str, Any]] = field(default_factory=list)  # loss lines
    evals: list[dict[str, Any]] = field(default_factory=list)  # evaluation records
    skipped: int = 0  # lines of metrics.jsonl that were not JSON objects
    strip_steps: list[int] = field(default_factory=list)  # the grids its strip shows

    @classmethod
    def read(cls, path: Path, name: str) -> RunLog:
        log = cls(Path(path), name, read_config(Path(path)))
        metrics = Path(path) / "metrics.jsonl"
        lines = metrics.read_text(encoding="utf-8", errors="replace").splitlines() if (
            metrics.is_file()) else []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict) or not isinstance(record.get("step"), int):
                log.skipped += bool(line.strip())
            elif isinstance(record.get("eval"), dict):
                log.evals.append(record)
            elif isinstance(record.get("d_loss"), (int, float)):
                log.train.append(record)
        return log

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        points = [(r["step"], r[key]) for r in self.train
                  if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        return _arrays(points)

    def scores(self) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
        """Score name -> (steps, values, protocol in words)."""
        found: dict[str, list[tuple[int, float]]] = {}
        protocol: dict[str, str] = {}
        for record in self.evals:
            p = record.get("protocol") or {}
            for key, value in record["eval"].items():
                if key.endswith("-std") or not isinstance(value, (int, float)):
                    continue
                found.setdefault(key, []).append((record["step"], value))
                protocol[key] = (f"{p.get('extractor', '?')} features, {p.get('n_fake', '?')} "
                                 "samples")
        return {key: (*_arrays(points), protocol[key]) for key, points in found.items()}

    def grids(self) -> list[tuple[int, Path]]:
        folder = self.path / "samples"
        found = []
        for png in folder.glob("step-*.png") if folder.is_dir() else []:
            try:
                found.append((int(png.stem.split("-")[1]), png))
            except (IndexError, ValueError):
                continue
        return sorted(found)


def _arrays(points: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    points = sorted(dict(points).items())  # one value per step: the last logged
    return (np.array([p[0] for p in points], dtype=np.int64),
            np.array([p[1] for p in points], dtype=np.float64))


def smooth(values: np.ndarray, weight: float | None = None) -> np.ndarray:
    """TensorBoard's smoothing: a debiased exponential moving average (``weight`` 0.6 for a
    short curve, 0.9 from 100 points on)."""
    if weight is None:
        weight = 0.9 if len(values) >= 100 else 0.6
    out, last, norm = np.empty(len(values)), 0.0, 0.0
    for i, v in enumerate(values):
        last = weight * last + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        out[i] = last / norm
    return out


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise GanzooError("ganzoo report draws with matplotlib: pip install 'ganzoo[report]' "
                          "(or pip install matplotlib)") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _figures(runs: list[RunLog]) -> dict[str, bytes]:
    """name -> PNG bytes of every figure the runs have data for."""
    plt = _pyplot()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    figures: dict[str, bytes] = {}

    def curves(name: str, title: str, keys: list[tuple[str, str]], ylabel: str,
               raw: bool = True) -> None:
        fig, ax = plt.subplots(figsize=(9, 4))
        drawn = False
        for i, run in enumerate(runs):
            colour = colours[i % len(colours)]
            for key, style in keys:
                steps, values = run.series(key)
                if not len(steps):
                    continue
                label = f"{run.name} {key}" if len(keys) > 1 else run.name
                if raw:
                    ax.plot(steps, values, style, color=colour, alpha=0.2, linewidth=0.8)
                    values = smooth(values)
                ax.plot(steps, values, style, color=colour, label=label, linewidth=1.6)
                drawn = True
        if drawn:
            ax.set(title=title, xlabel="step", ylabel=ylabel)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            figures[name] = _png(fig)
        plt.close(fig)

    curves("losses", "Losses (smoothed; raw values faint)",
           [("d_loss", "-"), ("g_loss", "--")], "loss")
    curves("throughput", "Throughput", [("img_per_s", "-")], "real images / s")
    curves("learning-rates", "Learning rates", [("lr_g", "-"), ("lr_d", "--")], "lr",
           raw=False)
    names = sorted({key for run in runs for key in run.scores()})
    if names:
        fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
        for ax, key in zip(axes[0], names, strict=True):
            for i, run in enumerate(runs):
                if key in run.scores():
                    steps, values, protocol = run.scores()[key]
                    ax.plot(steps, values, "o-", color=colours[i % len(colours)],
                            label=f"{run.name} ({protocol})")
            ax.set(title=key + (" (lower is better)" if key[:2] in ("fd", "kd") else ""),
                   xlabel="step")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        figures["scores"] = _png(fig)
        plt.close(fig)
    for i, run in enumerate(runs):
        strip = _strip(run)
        if strip is not None:
            figures[f"grids-{i + 1}"] = strip
    return figures


def _strip(run: RunLog) -> bytes | None:
    """Up to :data:`STRIP_GRIDS` of the run's sample grids side by side, oldest first."""
    grids = run.grids()
    if not grids:
        return None
    picks = sorted({round(i) for i in np.linspace(0, len(grids) - 1, min(STRIP_GRIDS,
                                                                           len(grids)))})
    images = [Image.open(grids[i][1]).convert("RGB") for i in picks]
    height = 256
    images = [im.resize((max(1, round(im.width * height / im.height)), height),
                        Image.Resampling.NEAREST) for im in images]
    strip = Image.new("RGB", (sum(im.width for im in images) + 8 * (len(images) - 1), height),
                      "white")
    x = 0
    for im in images:
        strip.paste(im, (x, 0))
        x += im.width + 8
    buffer = io.BytesIO()
    strip.save(buffer, "PNG")
    run.strip_steps = [grids[i][0] for i in picks]
    return buffer.getvalue()


def _checkpoints(run: RunLog) -> str:
    rows = []
    for step, path in ckpt.list_checkpoints(run.path):
        rows.append(f"<tr><td>{step}</td><td>{html.escape(path.name)}</td>"
                    f"<td>{path.stat().st_size / 2**20:.1f} MiB</td></tr>")
    best = run.path / "checkpoints" / ckpt.BEST_NAME
    if best.is_file():
        rows.append(f"<tr><td>best</td><td>{ckpt.BEST_NAME}</td>"
                    f"<td>{best.stat().st_size / 2**20:.1f} MiB</td></tr>")
    if not rows:
        return "<p>No checkpoints.</p>"
    return ("<table><tr><th>step</th><th>file</th><th>size</th></tr>" + "".join(rows)
            + "</table>")


def _summary(run: RunLog) -> str:
    recipe = run.config["recipe"]
    train = recipe.get("train", {})
    last = run.train[-1]["step"] if run.train else 0
    parts = [f"recipe <b>{html.escape(str(recipe.get('name', '?')))}</b>",
             f"data {html.escape(str(run.config['data'].get('source', '?')))}",
             f"step {last} of {train.get('steps', '?')}",
             f"batch {train.get('batch', '?')}", f"lr {train.get('lr', '?')}",
             f"precision {html.escape(str(train.get('precision', '?')))}"]
    for key, (steps, values, _) in sorted(run.scores().items()):
        parts.append(f"{html.escape(key)} {values[-1]:.3f} at step {steps[-1]}")
    if run.skipped:
        parts.append(f"{run.skipped} unreadable metrics line(s) skipped")
    return " · ".join(parts)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px;
       color: #222; }}
h1 {{ font-size: 1.5em; }} h2 {{ font-size: 1.15em; margin-top: 1.6em; }}
img {{ max-width: 100%; display: block; margin: 8px 0; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
pre {{ background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 0.85em; }}
.run {{ border-left: 6px solid var(--c); padding-left: 10px; margin: 8px 0; }}
</style></head><body>
<h1>{title}</h1>
{runs}
{figures}
{details}
</body></html>
"""


def write_report(paths: list[Path], output: Path) -> tuple[Path, list[Path]]:
    """Write the page for the run folders ``paths`` to ``output`` (an .html file) with its
    figures beside it (``NAME-losses.png``, ...): (page, figure files)."""
    if output.suffix.lower() not in (".html", ".htm"):
        raise GanzooError(f"the report is an HTML page: name it .html (got {output})")
    names = [Path(p).resolve().name for p in paths]
    if len(set(names)) < len(names):  # two runs of one name in different folders
        names = [str(p) for p in paths]
    runs = [RunLog.read(Path(p), name) for p, name in zip(paths, names, strict=True)]
    figures = _figures(runs)
    plt = _pyplot()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    written = []
    for key, data in figures.items():
        target = output.with_name(f"{output.stem}-{key}.png")
        atomic_write(target, data)
        written.append(target)

    def img(key: str, alt: str) -> str:
        if key not in figures:
            return ""
        data = base64.b64encode(figures[key]).decode()
        return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" id="{key}">'

    run_html = "".join(
        f'<div class="run" style="--c: {colours[i % len(colours)]}"><b>{html.escape(r.name)}'
        f"</b> ({html.escape(str(r.path))})<br>{_summary(r)}</div>" for i, r in enumerate(runs))
    blocks = ["<h2>Losses</h2>" + img("losses", "losses") if "losses" in figures
              else "<h2>Losses</h2><p>No loss lines logged yet.</p>"]
    if "scores" in figures:
        blocks.append("<h2>Scores</h2>" + img("scores", "scores"))
    else:
        blocks.append("<h2>Scores</h2><p>No evaluations logged (ganzoo train --eval-every N, "
                      "or ganzoo eval RUN).</p>")
    blocks.append("<h2>Throughput</h2>" + img("throughput", "throughput"))
    blocks.append(img("learning-rates", "learning rates"))
    for i, run in enumerate(runs):
        key = f"grids-{i + 1}"
        if key in figures:
            steps = ", ".join(str(s) for s in run.strip_steps)
            blocks.append(f"<h2>Samples over time: {html.escape(run.name)}</h2>"
                          f"<p>steps {steps}</p>" + img(key, f"sample grids of {run.name}"))
    details = "".join(
        f"<h2>{html.escape(r.name)}: checkpoints</h2>{_checkpoints(r)}"
        f"<details><summary>config.json</summary><pre>"
        f"{html.escape(json.dumps(r.config, indent=2))}</pre></details>" for r in runs)
    title = "ganzoo report: " + ", ".join(r.name for r in runs)
    page = PAGE.format(title=html.escape(title), runs=run_html, figures="".join(blocks),
                       details=details)
    atomic_write(output, page.encode())
    return output, written
