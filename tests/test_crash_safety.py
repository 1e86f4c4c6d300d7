"""Crash safety: kill -9 at random moments, SIGINT/SIGTERM, disk full, damaged checkpoints."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo import host, resolve_recipe
from ganzoo.data import load_data
from ganzoo.errors import GanzooError
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.store import checkpoint as ckpt
from ganzoo.train.loop import train
from ganzoo.train.signals import TrainingInterrupted
from tests.conftest import TINY, run_cli

ENV = {"OMP_NUM_THREADS": "1"}  # two busy cores: one thread per process is much faster
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny():
    recipe = resolve_recipe("dcgan", ["generator.ngf=8", "discriminator.ndf=8", "train.batch=16",
                                      "train.checkpoint_every=2", "train.log_every=1",
                                      "train.precision=fp32"])
    data = load_data("fashion-mnist", recipe.train.resolution, table=get_table())
    return with_data_shape(recipe, data.channels, data.num_classes), data


# -- real processes, real signals --------------------------------------------------------------


def metric_steps(run: Path) -> list[int]:
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    steps = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):  # a line cut by kill -9 (resume trims it)
            steps.append(json.loads(line)["step"])
    return steps


def start(args: list[str], err: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ganzoo", *args],
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **ENV},
                            stdout=subprocess.DEVNULL, stderr=open(err, "w"))  # noqa: SIM115


def wait_for_step(proc: subprocess.Popen, run: Path, step: int, err: Path) -> None:
    """Until the process has logged ``step`` (it is training, past its start-up)."""
    deadline = time.monotonic() + 120
    while not metric_steps(run) or metric_steps(run)[-1] < step:
        assert proc.poll() is None, f"exited {proc.returncode}:\n{err.read_text()}"
        assert time.monotonic() < deadline, err.read_text()
        time.sleep(0.05)


def wait_for_temp_file(folder: Path, seconds: float) -> bool:
    """Poll (about every millisecond) until a checkpoint's temporary file exists."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError), os.scandir(folder) as entries:
            if any(e.name.startswith(".step-") for e in entries):
                return True
        time.sleep(0.001)
    return False


def test_kill_9_at_random_moments_then_resume_to_the_end(tmp_path):
    """SIGKILLs of a run that checkpoints every 2 steps, at random moments and once aimed at
    a checkpoint write (landing while its temporary file exists, which writing in place would
    never make): every checkpoint on disk stays readable, at most one interval is lost,
    config.json never changes, and the last resume reaches its target with a clean history
    and no leftover temporary file."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    run, err = tmp_path / "run", tmp_path / "stderr.txt"
    first = ["train", "--steps", "100000", "--out", str(run), *TINY, "-q",
             "--set", "train.checkpoint_every=2", "--set", "train.log_every=1",
             "--set", "train.keep_checkpoints=2"]
    config = None
    resumed_from = 0
    plan = ["random", "aimed", "random"]
    landed = False
    for kill, how in enumerate(plan):
        args = first if kill == 0 else ["train", "--resume", str(run), "--steps", "100000", "-q"]
        proc = start(args, err)
        try:
            wait_for_step(proc, run, resumed_from + 1, err)
            if how == "aimed":  # kill on seeing a checkpoint's temporary file
                assert wait_for_temp_file(run / "checkpoints", seconds=30.0), (
                    f"no checkpoint was ever staged in a temporary file:\n{err.read_text()}")
            else:
                time.sleep(rng.uniform(0.0, 1.0))
        finally:
            proc.kill()
            proc.wait()
        why = f"kill {kill + 1} (seed {seed}):\n{err.read_text()}"
        if how == "aimed":
            staged = [p for p in (run / "checkpoints").iterdir()
                      if ckpt.STALE_TEMP.match(p.name)]
            landed = landed or bool(staged)
            if not staged and plan.count("aimed") < 4:
                plan.append("aimed")  # the write finished between the look and the kill
        config = config or (run / "config.json").read_bytes()
        assert (run / "config.json").read_bytes() == config, why
        saved = [step for step, path in ckpt.list_checkpoints(run)]
        for _, path in ckpt.list_checkpoints(run):
            ckpt.read_checkpoint(path)  # whole and verified, whatever the moment
        resumed_from = saved[-1] if saved else 0
        assert metric_steps(run)[-1] - resumed_from <= 2, why
    assert landed, f"no aimed kill landed during a checkpoint write (seed {seed})"

    target = metric_steps(run)[-1] + 3
    run_cli("train", "--resume", str(run), "--steps", str(target), "-q", env=ENV)
    assert (run / "config.json").read_bytes() == config
    assert metric_steps(run) == list(range(1, target + 1))  # no gaps, no repeats, no torn line
    assert [s for s, _ in ckpt.list_checkpoints(run)][-1] == target
    for _, path in ckpt.list_checkpoints(run):
        ckpt.read_checkpoint(path)
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]


def test_a_second_trainer_on_a_run_is_refused_and_kill_9_leaves_no_stale_lock(tmp_path):
    run, err = tmp_path / "run", tmp_path / "stderr.txt"
    proc = start(["train", "--steps", "100000", "--out", str(run), *TINY, "-q",
                  "--set", "train.log_every=1"], err)
    try:
        wait_for_step(proc, run, 1, err)
        second = run_cli("train", "--resume", str(run), "--steps", "5", check=False, env=ENV)
        assert second.returncode == 2, second.stderr
        assert f"being trained by another process (pid {proc.pid})" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        proc.kill()
        proc.wait()
    saved = [step for step, _ in ckpt.list_checkpoints(run)]
    run_cli("train", "--resume", str(run), "--steps", str((saved or [0])[-1] + 1), "-q", env=ENV)


def test_sigterm_saves_at_a_step_boundary_then_exits_143(tmp_path):
    run, err = tmp_path / "run", tmp_path / "stderr.txt"
    proc = start(["train", "--steps", "100000", "--out", str(run), *TINY, "-q",
                  "--set", "train.checkpoint_every=1000", "--set", "train.log_every=1"], err)
    try:
        wait_for_step(proc, run, 2, err)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        proc.kill()
    stderr = err.read_text()
    assert proc.returncode == 143, stderr
    step = max(s for s, _ in ckpt.list_checkpoints(run))
    path = ckpt.checkpoint_path(run, step)
    assert f"interrupted by SIGTERM at step {step}: saved {path}" in stderr
    assert f"'ganzoo train --resume {run}'" in stderr and "Traceback" not in stderr
    assert step >= metric_steps(run)[-1]  # the step in flight was finished, then saved
    assert ckpt.read_checkpoint(path)[1]["step"] == str(step)


def _signalling_loss(step: int, times: int):
    """A loss plugin that sends this process SIGINT ``times`` times during step ``step``:
    Ctrl-C arriving at a known moment."""
    calls = {"n": 0}

    def d_loss(real, fake):
        calls["n"] += 1
        if calls["n"] == step:
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)
        return torch.nn.functional.softplus(fake).mean() + torch.nn.functional.softplus(
            -real).mean()

    def register_losses(register):
        register("ctrl-c", d_loss=d_loss, g_loss=lambda f, r: torch.nn.functional.softplus(
            -f).mean())

    return types.SimpleNamespace(register_losses=ganzoo.hookimpl(register_losses))


@pytest.mark.parametrize(("times", "saved"), [(1, [2, 3]), (2, [2])])
def test_ctrl_c_saves_the_finished_step_and_twice_stops_at_once(tmp_path, one_thread, times,
                                                                 saved):
    plugin = _signalling_loss(step=3, times=times)
    host.register_plugin(plugin, "sig")
    try:
        recipe = resolve_recipe("dcgan", ["generator.ngf=8", "discriminator.ndf=8",
                                          "train.batch=16", "train.checkpoint_every=2",
                                          "loss=ctrl-c", "train.precision=fp32"])
        data = load_data("fashion-mnist", recipe.train.resolution, table=get_table())
        recipe = with_data_shape(recipe, data.channels, data.num_classes)
        handler = signal.getsignal(signal.SIGINT)
        with pytest.raises(TrainingInterrupted) as info:
            train(recipe, data, tmp_path / "run", CPU, steps=10, show_progress=False,
                  table=get_table())
    finally:
        host.unregister_plugin(plugin, "sig")
    assert signal.getsignal(signal.SIGINT) is handler  # restored
    assert info.value.exit_code == 130
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "run")] == saved
    if times == 1:
        assert str(info.value).startswith("interrupted by SIGINT at step 3: saved ")
    else:
        assert "stopped by a second SIGINT without saving" in str(info.value)


# -- in-process failures -------------------------------------------------------------------------


def test_a_damaged_checkpoint_fails_its_digest_and_resume_falls_back(tmp_path, tiny, one_thread):
    recipe, data = tiny
    run = tmp_path / "run"
    train(recipe, data, run, CPU, steps=4, show_progress=False, table=get_table())
    newest = ckpt.checkpoint_path(run, 4)
    raw = bytearray(newest.read_bytes())
    raw[-100] ^= 0x01  # one flipped bit in a weight: structurally still a valid file
    newest.write_bytes(bytes(raw))
    with pytest.raises(GanzooError, match="fails its SHA-256 check"):
        ckpt.read_checkpoint(newest)
    path, _, meta = ckpt.latest_checkpoint(run)
    assert path == ckpt.checkpoint_path(run, 2) and meta["step"] == "2"


def test_old_checkpoints_are_pruned_only_after_the_new_one_reads_back(tmp_path, tiny,
                                                                     monkeypatch, one_thread):
    recipe, data = tiny
    run = tmp_path / "run"
    trainer = train(recipe, data, run, CPU, steps=2, show_progress=False, table=get_table())
    stale = run / "checkpoints" / ".step-0000002.safetensors.tmp-99999"
    stale.write_bytes(b"left by a killed writer")

    def unreadable(path, what="checkpoint"):
        raise GanzooError(f"{what} {path} fails its SHA-256 check")

    monkeypatch.setattr(ckpt, "verify_file", unreadable)
    trainer.step = 4
    with pytest.raises(GanzooError, match="did not read back after writing"):
        ckpt.save_checkpoint(run, 4, *trainer.state(), keep=1)
    assert [s for s, _ in ckpt.list_checkpoints(run)] == [2]  # the only good one stays

    monkeypatch.undo()
    ckpt.save_checkpoint(run, 4, *trainer.state(), keep=1)
    assert [s for s, _ in ckpt.list_checkpoints(run)] == [4]
    assert not stale.exists()


def test_exactly_keep_checkpoints_are_kept(tmp_path, tiny, one_thread):
    recipe, data = tiny
    recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train,
                                                                   keep_checkpoints=3))
    train(recipe, data, tmp_path / "run", CPU, steps=10, show_progress=False, table=get_table())
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "run")] == [6, 8, 10]


def test_resume_before_the_first_checkpoint_starts_from_step_0(tmp_path, tiny, one_thread,
                                                               capsys):
    """kill -9 after config.json but before any checkpoint: the run is still resumable."""
    recipe, data = tiny
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "d_loss": 1.0}\n{"step": 2, "d_l')
    trainer = train(recipe, data, run, CPU, steps=2, resume=True, show_progress=False,
                    table=get_table())
    assert trainer.step == 2 and "no checkpoint yet; starting it from step 0" in (
        capsys.readouterr().err)
    assert metric_steps(run) == [1, 2]
