"""Evaluation end to end: the fmnist metric reacts to corruption, dropped modes and collapse;
reference statistics are cached; ganzoo eval / train --eval-every record their protocol."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
from safetensors import safe_open

import ganzoo
from ganzoo import host
from ganzoo.data import ImageData, load_data
from ganzoo.errors import GanzooError
from ganzoo.host import get_table
from ganzoo.metrics.features import load_extractor
from ganzoo.metrics.fmnist import load_fmnist_extractor
from ganzoo.metrics.scoring import prepare_evaluation, score_images
from ganzoo.store.checkpoint import latest_checkpoint, read_checkpoint
from tests.conftest import TINY, run_cli


@pytest.fixture(scope="module")
def fmnist():
    """The embedded data split in two: 1000 reference images, and disjoint images to score."""
    data = load_data("fashion-mnist", 28, table=get_table())
    reference = ImageData(data.images[:1000], data.labels[:1000], data.class_names,
                          source="fashion-mnist[:1000]")
    return reference, data.images[5000:], data.labels[5000:]


@pytest.fixture(scope="module")
def extractor():
    return load_extractor("fmnist", table=get_table())


def _score(images, reference, extractor, tmp_path, metrics=("fd", "pr")):
    return score_images(images, reference, metrics=metrics, extractor=extractor,
                        cache=tmp_path, table=get_table()).scores


def test_fd_fmnist_grows_with_noise(fmnist, extractor, tmp_path):
    reference, images, _ = fmnist
    clean = images[:500].float() / 127.5 - 1
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    fds = [_score((clean + sigma * noise).clamp(-1, 1), reference, extractor, tmp_path,
                  ("fd",))["fd-fmnist"] for sigma in (0.0, 0.1, 0.3, 0.6)]
    assert all(a < b for a, b in zip(fds, fds[1:])), fds
    assert fds[0] < 0.2 * fds[-1], fds


def test_recall_falls_when_half_the_classes_are_dropped_and_collapse(fmnist, extractor,
                                                                      tmp_path):
    reference, images, labels = fmnist
    every_class = _score(images[:500], reference, extractor, tmp_path)
    half = images[labels < 5][:500]
    five_classes = _score(half, reference, extractor, tmp_path)
    collapsed = _score(images[:1].expand(500, -1, -1, -1), reference, extractor, tmp_path)
    assert every_class["recall-fmnist"] > 0.6
    assert five_classes["recall-fmnist"] < every_class["recall-fmnist"] - 0.25, (
        every_class, five_classes)
    assert five_classes["fd-fmnist"] > 3 * every_class["fd-fmnist"]
    assert collapsed["recall-fmnist"] < 0.01
    assert collapsed["fd-fmnist"] > 10 * every_class["fd-fmnist"]


def test_register_feature_extractors_plugin_is_scored_and_its_reference_cached(fmnist,
                                                                                tmp_path):
    reference, images, _ = fmnist
    calls = []

    class Counting:
        sha256 = "c0ffee" * 10 + "c0ff"

        def __init__(self):
            self.net = load_fmnist_extractor()

        def features(self, x):
            calls.append(len(x))
            return self.net.features(x)

    @ganzoo.hookimpl
    def register_feature_extractors(register):
        register("counting", load=lambda device="cpu": Counting(), channels=[1],
                 resize="as fmnist", description="counts its calls")

    plugin = types.SimpleNamespace(register_feature_extractors=register_feature_extractors)
    host.register_plugin(plugin, "counter")
    try:
        first = score_images(images[:300], reference, metrics="fd", extractor="counting",
                             cache=tmp_path, table=get_table())
        assert sum(calls) == len(reference) + 300
        cached = list((tmp_path / "reference").iterdir())
        assert len(cached) == 1 and cached[0].name.startswith("counting-c0ffeec0ffee")
        calls.clear()
        again = score_images(images[:300], reference, metrics="fd", extractor="counting",
                             cache=tmp_path, table=get_table())
        assert sum(calls) == 300  # only the fakes: the reference came from the cache
        assert again.scores == first.scores
        assert set(first.scores) == {"fd-counting"}
        p = again.protocol
        assert p["extractor"] == "counter:counting" and p["extractor_sha256"] == Counting.sha256
        assert (p["n_real"], p["n_fake"], p["reference"]["cached"]) == (1000, 300, True)
        # other reference images are another cache entry, never a stale hit
        other = ImageData(reference.images[:500], source="fewer")
        score_images(images[:300], other, metrics="fd", extractor="counting", cache=tmp_path,
                     table=get_table())
        assert len(list((tmp_path / "reference").iterdir())) == 2
    finally:
        host.unregister_plugin(plugin, "counter")
    with pytest.raises(GanzooError, match="unknown feature_extractor 'counting'"):
        load_extractor("counting", table=get_table())


def test_inception_without_a_file_is_a_clear_error(tmp_path):
    with pytest.raises(GanzooError, match="not found"):
        load_extractor("inception", weights=str(tmp_path / "missing.pth"), table=get_table())
    with pytest.raises(GanzooError, match="only for|is for --extractor inception"):
        load_extractor("fmnist", weights="x.pth", table=get_table())


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """Two tiny training steps on 1000 images with an evaluation after each."""
    root = tmp_path_factory.mktemp("eval")
    data = load_data("fashion-mnist", 28, table=get_table())
    np.savez(root / "fm1000.npz", images=data.images[:1000, 0].numpy(),
             labels=data.labels[:1000].numpy())
    run = root / "run"
    env = {"GANZOO_CACHE_DIR": str(root / "cache")}
    run_cli("train", "--steps", "2", "--out", str(run), "-q", *TINY, "--data",
            str(root / "fm1000.npz"), "--eval-every", "1", "--eval-n", "100", env=env)
    return run, env


def _evals(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "eval" in r]


def test_train_eval_every_logs_scores_and_keeps_the_best_checkpoint(trained_run):
    run, _ = trained_run
    evals = _evals(run)
    assert [r["step"] for r in evals] == [1, 2]
    assert set(evals[0]["eval"]) == {"fd-fmnist", "kd-fmnist", "kd-fmnist-std",
                                     "precision-fmnist", "recall-fmnist"}
    best = min(evals, key=lambda r: r["eval"]["fd-fmnist"])
    with safe_open(str(run / "checkpoints" / "best.safetensors"), "pt") as f:
        meta = f.metadata()
    assert int(meta["step"]) == best["step"]
    assert json.loads(meta["eval"])["fd-fmnist"] == best["eval"]["fd-fmnist"]
    _, verified = read_checkpoint(run / "checkpoints" / "best.safetensors")  # digest checked
    assert verified["step"] == meta["step"]
    path, _, _ = latest_checkpoint(run)
    assert path.name == "step-0000002.safetensors"


def test_cli_eval_appends_a_record_with_its_protocol(trained_run):
    run, env = trained_run
    proc = run_cli("eval", str(run), "--metrics", "fd,is,pr", "-n", "200", "--seed", "3",
                   env=env)
    assert "fd-fmnist" in proc.stdout and "recall-fmnist" in proc.stdout
    record = _evals(run)[-1]
    assert set(record["eval"]) == {"fd-fmnist", "is-fmnist", "is-fmnist-std",
                                   "precision-fmnist", "recall-fmnist"}
    p = record["protocol"]
    assert p["extractor"] == "ganzoo:fmnist" and len(p["extractor_sha256"]) == 64
    assert (p["n_real"], p["n_fake"], p["seed"], p["step"]) == (1000, 200, 3, 2)
    assert p["reference"]["source"].endswith("fm1000.npz") and p["reference"]["cached"]
    assert "28x28" in p["resize"] and p["ganzoo_version"] == ganzoo.__version__


def test_cli_eval_shows_a_progress_bar_on_a_terminal_only(trained_run):
    """On a terminal (a real pseudo-terminal as stderr) eval draws one progress bar over the
    images it generates and then measures; piped, as in CI logs, it prints none."""
    run, env = trained_run
    args = [sys.executable, "-m", "ganzoo", "eval", str(run), "--metrics", "fd", "-n", "300",
            "--batch", "100", "--no-log"]
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=secondary, text=True,
                              env={**os.environ, **env}, timeout=300)
        os.close(secondary)
        terminal = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the pty's other end is closed: everything was read
                break
            if not chunk:
                break
            terminal += chunk
    finally:
        os.close(primary)
    assert proc.returncode == 0 and "fd-fmnist" in proc.stdout
    assert b"drawing and scoring 300 images" in terminal, terminal
    # 600 image passes in batches of 100: drawing ends at 50 %, the features fill the rest
    shown = [int(p) for p in re.findall(rb"(\d+)%", terminal)]
    assert shown == sorted(shown) and shown[-1] == 100, terminal
    assert {16, 33, 50, 66, 83} <= set(shown), terminal
    piped = run_cli("eval", str(run), "--metrics", "fd", "-n", "300", "--no-log", env=env)
    assert "drawing" not in piped.stderr and "fd-fmnist" in piped.stdout


def test_evaluation_work_counts_every_image_pass(trained_run, tmp_path, one_thread):
    """What the bar's length is: the drawn images, one pass per extractor call over them,
    and the reference images while their features are not cached; ``run`` reports exactly
    that much."""
    run, _ = trained_run
    table = get_table()
    done = []
    first = prepare_evaluation(run, table=table, metrics="fd,is", n=20, cache=tmp_path,
                               batch=8)
    assert not first.reference_cached and first.work == 3 * 20 + 1000
    first.run(progress=done.append)
    assert sum(done) == first.work and max(done) <= 8
    again = prepare_evaluation(run, table=table, metrics="kd", n=20, cache=tmp_path)
    assert again.reference_cached and again.work == 2 * 20


def test_cli_eval_inception_needs_a_file_with_the_right_hash(trained_run, tmp_path):
    run, env = trained_run
    proc = run_cli("eval", str(run), "--extractor", "inception", "-n", "10",
                   env={**env, "GANZOO_INCEPTION_WEIGHTS": ""}, check=False)
    assert proc.returncode == 2
    assert "--inception-weights PATH or set GANZOO_INCEPTION_WEIGHTS" in proc.stderr
    fake = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    fake.write_bytes(b"not the weights")
    proc = run_cli("eval", str(run), "--extractor", "inception", "-n", "10",
                   env={**env, "GANZOO_INCEPTION_WEIGHTS": str(fake)}, check=False)
    assert proc.returncode == 2
    assert "error: Inception weights at" in proc.stderr and "sha256" in proc.stderr
    assert "Traceback" not in proc.stderr
