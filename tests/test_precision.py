"""The fast path: precision choice, bf16 training on CPU, and what is recorded for resume."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ganzoo.devices import choose_fast_path
from ganzoo.errors import GanzooError
from tests.conftest import TINY, read_metrics, run_cli

CPU = torch.device("cpu")


@pytest.mark.parametrize(("requested", "capable", "want", "channels_last"), [
    ("auto", True, "bf16", True),
    ("auto", False, "fp32", False),
    ("fp32", True, "fp32", False),
    ("bf16", False, "bf16", True),
])
def test_cpu_choice_is_deterministic_given_the_capability(requested, capable, want,
                                                          channels_last):
    fast = choose_fast_path(requested, CPU, cpu_bf16=capable)
    assert (fast.precision, fast.channels_last, fast.fused_adam) == (want, channels_last, False)


@pytest.mark.parametrize(("requested", "capable", "want", "channels_last"), [
    ("auto", True, "bf16", True),
    ("auto", False, "fp32", True),  # channels_last draws faster in fp32 too
    ("fp32", True, "fp32", False),  # explicit fp32: the layout ONNX parity compares against
    ("fp32", False, "fp32", False),
])
def test_sampling_takes_channels_last_where_auto_picks_fp32(requested, capable, want,
                                                            channels_last):
    fast = choose_fast_path(requested, CPU, cpu_bf16=capable, sampling=True)
    assert (fast.precision, fast.channels_last) == (want, channels_last)


def test_fp16_on_cpu_is_refused():
    with pytest.raises(GanzooError, match="fp16 is for GPUs"):
        choose_fast_path("fp16", CPU, cpu_bf16=True)


def test_capability_can_be_forced_by_environment(monkeypatch):
    monkeypatch.setenv("GANZOO_CPU_BF16", "0")
    assert choose_fast_path("auto", CPU).precision == "fp32"
    monkeypatch.setenv("GANZOO_CPU_BF16", "1")
    assert choose_fast_path("auto", CPU).precision == "bf16"


def test_bf16_run_records_its_precision_and_resumes_with_it(tmp_path):
    run = tmp_path / "run"
    proc = run_cli("train", "--steps", "4", "--out", str(run), *TINY,
                   "--set", "train.log_every=1", env={"GANZOO_CPU_BF16": "1"})
    assert "precision bf16, channels_last (auto: CPU has native bf16)" in proc.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"]["train"]["precision"] == "bf16"
    assert config["fast_path"]["channels_last"] is True
    # resumed on a "machine" without bf16, the run keeps the precision it started with
    proc = run_cli("train", "--resume", str(run), "--steps", "6", env={"GANZOO_CPU_BF16": "0"})
    assert "(precision bf16)" in proc.stderr
    losses = read_metrics(run)
    assert [m["step"] for m in losses] == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(m["d_loss"]) and math.isfinite(m["g_loss"]) for m in losses)


def test_explicit_fp32_is_honoured(tmp_path):
    run = tmp_path / "run"
    proc = run_cli("train", "--steps", "1", "--out", str(run), *TINY, "--precision", "fp32",
                   env={"GANZOO_CPU_BF16": "1"})
    assert "precision fp32 (requested)" in proc.stderr


def test_compile_smoke(tmp_path):
    """torch.compile of G and D trains on CPU (inductor needs the C++ compiler CI has)."""
    run = tmp_path / "run"
    run_cli("train", "--steps", "2", "--out", str(run), *TINY, "--precision", "fp32",
            "--compile", "-q", timeout=600)
    assert (run / "checkpoints" / "step-0000002.safetensors").exists()
