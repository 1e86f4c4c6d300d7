"""``ganzoo train --tensorboard``: real event files, read back with TensorBoard's own reader."""

from __future__ import annotations

import pytest

from tests.conftest import TINY, read_metrics, run_cli

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

ENV = {"OMP_NUM_THREADS": "1"}
EVERY = ["--set", "train.log_every=2", "--set", "train.sample_every=3",
         "--set", "train.checkpoint_every=4", "--set", "train.eval_every=6",
         "--set", "train.eval_n=64"]


def board(run):
    reader = event_accumulator.EventAccumulator(
        str(run / "tensorboard"), size_guidance={event_accumulator.SCALARS: 0,
                                                 event_accumulator.IMAGES: 0})
    reader.Reload()
    return reader


def steps(reader, tag):
    return [event.step for event in reader.Scalars(tag)]


def test_scalars_grids_scores_and_recipe(tmp_path):
    run = tmp_path / "run"
    run_cli("train", "--steps", "6", "--out", str(run), "--tensorboard", "-q", *TINY, *EVERY,
            "--set", "regularizers=[{name: r1, interval: 1}]", env=ENV)
    reader = board(run)
    tags = reader.Tags()
    for tag in ("train/d_loss", "train/g_loss", "train/img_per_s", "train/lr_g",
                "train/lr_d", "train/reg_r1"):
        assert steps(reader, tag) == [2, 4, 6], tag
    logged = {r["step"]: r for r in read_metrics(run) if "d_loss" in r}
    assert [e.value for e in reader.Scalars("train/d_loss")] == pytest.approx(
        [logged[s]["d_loss"] for s in (2, 4, 6)])
    assert steps(reader, "eval/fd-fmnist") == [6]
    assert [e.step for e in reader.Images("samples")] == [3, 6]
    width = reader.Images("samples")[0].width
    assert width == 8 * 32 + 9 * 2  # the 64-image grid of RUN/samples
    assert "recipe/text_summary" in tags["tensors"]
    text = reader.Tensors("recipe/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"name": "dcgan"' in text and '"tensorboard": true' in text


def test_resume_appends_without_duplicate_steps(tmp_path):
    """A crash after step 6's log lines but before its checkpoint: the resumed run logs 6 again,
    and TensorBoard's reader shows it once (the new file purges from the resumed step)."""
    run = tmp_path / "run"
    run_cli("train", "--steps", "6", "--out", str(run), "--tensorboard", "-q", *TINY, *EVERY,
            "--set", "train.eval_every=0", env=ENV)
    (run / "checkpoints" / "step-0000006.safetensors").unlink()  # as if killed before it
    run_cli("train", "--resume", str(run), "--steps", "8", "-q", env=ENV)
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 2
    reader = board(run)
    assert steps(reader, "train/d_loss") == [2, 4, 6, 8]
    assert [e.step for e in reader.Images("samples")] == [3, 6, 8]
    assert [r["step"] for r in read_metrics(run) if "d_loss" in r] == [2, 4, 6, 8]


def test_tensorboard_can_be_turned_on_at_resume(tmp_path):
    run = tmp_path / "run"
    run_cli("train", "--steps", "4", "--out", str(run), "-q", *TINY, *EVERY, env=ENV)
    assert not (run / "tensorboard").exists()
    run_cli("train", "--resume", str(run), "--steps", "6", "--tensorboard", "-q", env=ENV)
    assert steps(board(run), "train/d_loss") == [6]


def test_missing_tensorboard_is_one_clear_error(tmp_path):
    """Without the package (here: one that fails to import, first on the path) the run stops
    before any data loads, with the extra to install, and leaves no run folder."""
    fake = tmp_path / "site" / "tensorboard"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named tensorboard')\n")
    run = tmp_path / "run"
    proc = run_cli("train", "--steps", "2", "--out", str(run), "--tensorboard", "-q", *TINY,
                   env={**ENV, "PYTHONPATH": str(tmp_path / "site")}, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: train.tensorboard needs the tensorboard package: "
                                  "pip install 'ganzoo[tensorboard]'")
    assert "Traceback" not in proc.stderr and not run.exists()
