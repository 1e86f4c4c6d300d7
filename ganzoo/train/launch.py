"""Starting and resuming runs: what ``ganzoo train`` does between parsing and the loop."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
import torch.distributed as dist

from ganzoo.components import NameTable, describe_callable
from ganzoo.config import Override, ResolvedRecipe, check_sizes
from ganzoo.data import ImageData, check_batch_fits, load_data
from ganzoo.devices import FastPath, choose_fast_path, resolve_device
from ganzoo.errors import GanzooError
from ganzoo.recipes import recipe_from_config, resolve_recipe, with_data_shape
from ganzoo.store.run import (
    LOCK_NAME,
    check_writable,
    new_run_dir,
    read_config,
    versions,
    write_config,
    writer_lock,
)
from ganzoo.train.board import check_available as check_tensorboard
from ganzoo.train.distributed import DistContext, init_from_env
from ganzoo.train.init import InitWeights, read_init
from ganzoo.train.loop import train


def _say(quiet: bool, ctx: DistContext, message: str) -> None:
    if not quiet and ctx.is_main:
        print(message, file=sys.stderr, flush=True)


def describe_objective(recipe: ResolvedRecipe, table: NameTable) -> str:
    """What the D and G steps will run: the loss, its constraint, the active regularizers."""
    loss = table.get("loss", recipe.loss)
    text = f"loss {recipe.loss}"
    if recipe.loss_params:
        text += f" ({loss.describe_params(recipe.loss_params)})"
    if loss.after_d_step is not None:
        text += f" (after each D step: {describe_callable(loss.after_d_step)})"
    regs = [f"{r.name} weight {r.weight:g} every {r.interval}"
            for r in recipe.regularizers if r.weight != 0]
    return text + (f" + {', '.join(regs)}" if regs else "")


def _agree_on_run_dir(path: Path, ctx: DistContext) -> Path:
    """Every process uses the main process's run folder (names carry a timestamp)."""
    if not ctx.enabled:
        return path
    box = [str(path)]
    dist.broadcast_object_list(box, src=0)
    return Path(box[0])


# What a new run holds before its first step has finished: the config and the writer's lock.
STARTED_ONLY = {"config.json", LOCK_NAME}


@contextlib.contextmanager
def _taken_back_if_nothing_trained(run_dir: Path, is_main: bool) -> Iterator[None]:
    """If starting a run fails before training wrote anything (a model that cannot be built,
    a plugin that raises at step 1), remove what this command wrote: its config.json, its lock
    and the folder itself if this command created it. Then the same ``--out`` works on a retry
    instead of "already holds a run". Anything else in the folder keeps it all in place, and
    so does a failed write (disk full), whose error says to resume the run."""
    existed = run_dir.exists()
    try:
        before = set(os.listdir(run_dir)) if existed else set()
    except OSError:
        before = None  # not a folder we can list: touch nothing
    try:
        yield
    except Exception as exc:
        if is_main and before is not None and not isinstance(exc.__cause__, OSError):
            with contextlib.suppress(OSError):
                added = set(os.listdir(run_dir)) - before
                if added <= STARTED_ONLY:
                    for name in sorted(added):
                        (run_dir / name).unlink()
                    if not existed:
                        run_dir.rmdir()
        raise


def _device_for(device_name: str) -> tuple[DistContext, torch.device]:
    """This process's distributed context and device (its own GPU under torchrun)."""
    ctx = init_from_env(resolve_device(device_name))
    return ctx, resolve_device(device_name, ctx.local_rank if ctx.enabled else None)


def start_run(arch: str, overrides: Sequence[str | Override], data_spec: str | None,
              out: Path | None, runs_dir: Path, device_name: str, *, table: NameTable,
              quiet: bool = False, compile: bool = False, init: Path | None = None,
              init_label: str = "") -> Path:
    """Resolve the recipe, load the data, write config.json and train from step 0.

    ``init`` is a run folder or a generator file the new run's models start from (``--init``;
    see :mod:`ganzoo.train.init`), ``init_label`` what the user named it by.

    The device and the precision are resolved here, once; the recipe written to config.json
    records the precision they gave, and the trainer is handed the same fast path.
    """
    recipe = resolve_recipe(arch, overrides, table=table)
    if recipe.train.tensorboard:
        check_tensorboard()  # before any data loads or a run folder exists
    ctx, device = _device_for(device_name)
    fast = choose_fast_path(recipe.train.precision, device)
    recipe = dataclasses.replace(
        recipe, train=dataclasses.replace(recipe.train, precision=fast.precision))
    data_spec = data_spec or recipe.train.dataset
    images = load_data(data_spec, recipe.train.resolution, table=table)
    recipe = with_data_shape(recipe, images.channels, images.num_classes)
    if recipe.train.conditional and not images.num_classes:
        raise GanzooError(f"recipe '{recipe.name}' is conditional but {data_spec} has no labels; "
                          "use a dataset with labels (a folder with one subfolder per class)")
    check_sizes("generator", recipe.generator, recipe.generator_arch)
    check_sizes("discriminator", recipe.discriminator, recipe.discriminator_arch)
    start = (None if init is None
             else read_init(init, init_label or str(init), recipe, table=table))
    check_batch_fits(images, recipe.train.batch, ctx.world)  # before a run folder exists
    run_dir = _agree_on_run_dir(out or new_run_dir(runs_dir, recipe.name), ctx)
    with _taken_back_if_nothing_trained(run_dir, ctx.is_main):
        if ctx.is_main:
            stored_spec = (str(Path(data_spec).resolve()) if Path(data_spec).exists()
                           else data_spec)
            write_config(run_dir, {
                "recipe": recipe.to_dict(),
                "data": {"spec": stored_spec, "source": images.source, "count": len(images),
                         "channels": images.channels,
                         "num_classes": recipe.generator.num_classes,
                         "class_names": images.class_names},
                "device": str(device),
                "processes": ctx.world,
                "fast_path": dataclasses.asdict(fast),
                "versions": versions(),
                **({"init": start.record} if start is not None else {}),
            })
        _say(quiet, ctx, f"training {recipe.name} with {describe_objective(recipe, table)} "
                         f"on {images.source} ({len(images)} images, "
                         f"{recipe.train.resolution}px) on {device}"
                         f"{f' x{ctx.world} processes' if ctx.enabled else ''} -> {run_dir}")
        _say(quiet, ctx, f"precision {fast.precision}"
                         f"{', channels_last' if fast.channels_last else ''} ({fast.reason})")
        if start is not None:
            _say(quiet, ctx, start.describe())
        _train(recipe, images, run_dir, device, ctx, quiet, compile, resume=False, table=table,
               fast=fast, init=start)
    _say(quiet, ctx, f"done: {run_dir}  (samples in {run_dir / 'samples'}; "
                     f"'ganzoo sample {run_dir} -o grid.png')")
    return run_dir


def resume_run(run_dir: Path, steps: int | None, device_name: str, *, table: NameTable,
               quiet: bool = False, compile: bool = False, tensorboard: bool = False) -> Path:
    """Continue a run from its latest checkpoint with the configuration it was started with
    (``tensorboard`` turns TensorBoard logging on for this session of it)."""
    config = read_config(run_dir)
    check_writable(run_dir)  # before the data and the models load
    try:
        recipe = recipe_from_config(config, table)
    except GanzooError as exc:
        made_by = config.get("versions", {}).get("ganzoo", "an unknown version")
        raise GanzooError(f"--resume {run_dir}: its config.json does not match this ganzoo "
                          f"({exc}). The run was made by ganzoo {made_by}: undo the edit, "
                          "install what it was trained with (plugins included), or start a new "
                          "run") from exc
    ctx, device = _device_for(device_name)
    images = load_data(config["data"]["spec"], recipe.train.resolution, table=table)
    want = config.get("data", {})
    if (want.get("channels"), want.get("count")) != (images.channels, len(images)):
        raise GanzooError(f"--resume {run_dir}: the data at {want.get('spec')} changed since the "
                          f"run started ({want.get('count')} images with {want.get('channels')} "
                          f"channels then, {len(images)} with {images.channels} now)")
    if config.get("processes", 1) != ctx.world:
        raise GanzooError(f"--resume {run_dir}: the run used {config.get('processes', 1)} "
                          f"process(es), this launch has {ctx.world}; resume it the same way")
    if steps is not None:
        recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, steps=steps))
    if tensorboard:
        recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train,
                                                                       tensorboard=True))
    if recipe.train.tensorboard:
        check_tensorboard()
    _say(quiet, ctx, f"resuming {run_dir} to step {recipe.train.steps} on {device} "
                     f"(precision {recipe.train.precision})")
    _train(recipe, images, run_dir, device, ctx, quiet, compile, resume=True, table=table)
    _say(quiet, ctx, f"done: {run_dir}")
    return run_dir


def _train(recipe: ResolvedRecipe, images: ImageData, run_dir: Path, device: torch.device,
           ctx: DistContext, quiet: bool, compile: bool, resume: bool, *, table: NameTable,
           fast: FastPath | None = None, init: InitWeights | None = None) -> None:
    try:
        with writer_lock(run_dir) if ctx.is_main else contextlib.nullcontext():
            train(recipe, images, run_dir, device, table=table, resume=resume,
                  show_progress=not quiet, ctx=ctx, compile=compile, fast=fast, init=init)
        if ctx.enabled:
            # the first process is still writing the last checkpoint: shutting the group
            # down under a peer that is not done with it can abort that peer (gloo)
            dist.barrier()
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                             errno.EPERM):
            raise
        raise GanzooError(f"writing to {run_dir} failed ({exc}); free some space or fix the "
                          f"folder's permissions, then continue with 'ganzoo train --resume "
                          f"{run_dir}'") from exc
    finally:
        if ctx.enabled and dist.is_initialized():
            dist.destroy_process_group()


def launch_torchrun(processes: int, argv: list[str]) -> int:
    """Re-run this ``ganzoo train`` command under torchrun with ``processes`` workers."""
    if processes > 1 and not torch.cuda.is_available():
        raise GanzooError("--gpus needs CUDA GPUs; for several CPU processes run "
                          "'torchrun --nproc_per_node K -m ganzoo train ...' (gloo)")
    if processes > torch.cuda.device_count():
        raise GanzooError(f"--gpus {processes}: only {torch.cuda.device_count()} GPU(s) visible")
    torchrun = shutil.which("torchrun")
    cmd = ([torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"])
    cmd += ["--standalone", f"--nproc_per_node={processes}", "-m", "ganzoo", *argv]
    return subprocess.call(cmd, env=os.environ.copy())
