"""``ganzoo report``: the HTML page of one or several runs, rendered in a real headless
Chromium (skipped only where chromium is absent, and never in CI: GANZOO_NO_SKIP=1)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import TINY, run_cli

pytest.importorskip("matplotlib")

ENV = {"OMP_NUM_THREADS": "1"}
CHROMIUM = os.environ.get("GANZOO_CHROMIUM") or shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("GANZOO_NO_SKIP") != "1",
    reason="no chromium (.ci/run installs Debian's)")
BLUE, ORANGE = (31, 119, 180), (255, 127, 14)  # matplotlib's first two colours: run 1, run 2


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    for name, lr in (("slow", "1e-4"), ("fast", "1e-3")):
        run_cli("train", "--steps", "24", "--out", str(root / name), "-q", *TINY,
                "--set", f"train.lr={lr}", "--set", "train.log_every=2",
                "--set", "train.sample_every=6", "--set", "train.eval_every=12",
                "--set", "train.eval_n=64", env=ENV)
    return root


def test_report_of_two_runs_has_every_figure(runs, tmp_path):
    out = tmp_path / "cmp" / "report.html"
    proc = run_cli("report", str(runs / "slow"), str(runs / "fast"), "-o", str(out))
    assert "wrote" in proc.stdout and "6 figures beside it" in proc.stdout
    page = out.read_text()
    for key in ("losses", "scores", "throughput", "learning-rates", "grids-1", "grids-2"):
        figure = out.with_name(f"report-{key}.png")
        assert Image.open(figure).size[0] > 200, key
        assert f'id="{key}"' in page, key
    assert "fd-fmnist" in page and "step-0000024.safetensors" in page
    assert "steps 6, 12, 18, 24" in page  # each strip shows the grids over time
    strip = Image.open(out.with_name("report-grids-1.png"))
    assert strip.size[0] > 3 * strip.size[1]


def test_one_run_report_goes_into_the_run(runs):
    proc = run_cli("report", str(runs / "slow"))
    assert (runs / "slow" / "report.html").is_file(), proc.stdout
    assert (runs / "slow" / "report-losses.png").is_file()


@needs_chromium
def test_report_renders_in_headless_chromium(runs, tmp_path):
    out = tmp_path / "report.html"
    run_cli("report", str(runs / "slow"), str(runs / "fast"), "-o", str(out))
    shot = tmp_path / "shot.png"
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--window-size=1200,3200",
                           f"--screenshot={shot}", out.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr
    if os.environ.get("GANZOO_TEST_ARTEFACTS"):
        keep = Path(os.environ["GANZOO_TEST_ARTEFACTS"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, keep / "report.png")
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert (pixels.min(axis=2) < 200).mean() > 0.05  # far from a blank page
    for colour in (BLUE, ORANGE):  # both runs' curves were drawn on screen
        assert (np.abs(pixels - colour).max(axis=2) < 12).sum() > 200, colour


def test_bad_report_inputs_are_clear_errors(runs, tmp_path):
    proc = run_cli("report", str(tmp_path), check=False)
    assert proc.returncode == 2 and "is not a ganzoo run (no config.json)" in proc.stderr
    proc = run_cli("report", str(runs / "slow"), "-o", str(tmp_path / "r.pdf"), check=False)
    assert proc.returncode == 2 and "name it .html" in proc.stderr
    fake = tmp_path / "site" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    proc = run_cli("report", str(runs / "slow"), "-o", str(tmp_path / "x.html"), check=False,
                   env={"PYTHONPATH": str(tmp_path / "site")})
    assert proc.returncode == 2
    assert "ganzoo report draws with matplotlib: pip install 'ganzoo[report]'" in proc.stderr
    assert not (tmp_path / "x.html").exists()
