"""Data-parallel training through a real torchrun with gloo on CPU."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from ganzoo import host, resolve_recipe
from ganzoo.data import load_data
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.train.loop import train
from tests.conftest import read_metrics, run_cli
from tests.helpers.toy_arch import ToyPlugin

COMMON = ["train", "--set", "generator.ngf=8", "--set", "discriminator.ndf=8",
          "--precision", "fp32", "--steps", "3", "-q", "--set", "train.log_every=1"]


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "ganzoo", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[:3000] + "\n[...]\n" + proc.stderr[-3000:]
    return proc


def _weights(run, step):
    state = load_file(run / "checkpoints" / f"step-{step:07d}.safetensors")
    return {k: v for k, v in state.items()
            if k.startswith(("G.", "D.", "G_ema.")) and v.is_floating_point()}


@pytest.mark.slow
def test_two_processes_match_one_process_with_twice_the_batch(tmp_path):
    run_cli(*COMMON, "--batch", "16", "--out", str(tmp_path / "one"),
            env={"OMP_NUM_THREADS": "1"})
    _torchrun(*COMMON, "--batch", "8", "--out", str(tmp_path / "two"))
    one, two = _weights(tmp_path / "one", 3), _weights(tmp_path / "two", 3)
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5, msg=key)
    # one writer: a single metrics file with one line per step, samples from rank 0 only
    lines = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3

    # resume a two-process run with two processes, and refuse a mismatched launch
    _torchrun("train", "--resume", str(tmp_path / "two"), "--steps", "4", "-q")
    assert (tmp_path / "two" / "checkpoints" / "step-0000004.safetensors").exists()
    proc = run_cli("train", "--resume", str(tmp_path / "two"), "--steps", "5", check=False)
    assert proc.returncode == 2 and "used 2 process(es)" in proc.stderr


@pytest.mark.slow
def test_progan_grows_on_the_images_every_process_saw(tmp_path):
    """Two processes x batch 8 follow one process x batch 16 through the growth schedule, and
    the recipe's gradient penalty (a double backward) runs in each process."""
    args = ["train", "--arch", "progan", "--steps", "4", "-q", "--set", "generator.ngf=8",
            "--set", "discriminator.ndf=8", "--set", "train.resolution=16",
            "--set", "generator.stage_images=16", "--set", "generator.fade_images=32",
            "--set", "train.log_every=1"]
    run_cli(*args, "--batch", "16", "--out", str(tmp_path / "one"),
            env={"OMP_NUM_THREADS": "1"})
    _torchrun(*args, "--batch", "8", "--out", str(tmp_path / "two"))
    expected = [{"resolution": 8, "alpha": 1.0}, {"resolution": 16, "alpha": 0.0},
                {"resolution": 16, "alpha": 0.5}, {"resolution": 16, "alpha": 1.0}]
    for records in (read_metrics(tmp_path / "one"), read_metrics(tmp_path / "two")):
        assert [m["progress"] for m in records] == expected
        assert all(math.isfinite(m["d_loss"]) and math.isfinite(m["g_loss"]) for m in records)


def test_gradient_accumulation_matches_the_whole_batch(tmp_path):
    """Without BatchNorm (whose statistics depend on the split), accumulating two half
    batches must give the whole batch's update."""
    plugin = ToyPlugin()
    host.register_plugin(plugin, "toy")
    try:
        results = []
        for accumulate in (1, 2):
            recipe = resolve_recipe("mlp", ["train.resolution=16", "train.batch=16",
                                            "train.precision=fp32",
                                            f"train.accumulate={accumulate}"])
            data = load_data("fashion-mnist", 16, table=get_table())
            recipe = with_data_shape(recipe, data.channels, data.num_classes)
            trainer = train(recipe, data, tmp_path / str(accumulate), torch.device("cpu"),
                            steps=3, show_progress=False, table=get_table())
            results.append(trainer)
        for p, q in zip(results[0].G.parameters(), results[1].G.parameters()):
            torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)
        for p, q in zip(results[0].D.parameters(), results[1].D.parameters()):
            torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)
    finally:
        host.unregister_plugin(plugin, "toy")
