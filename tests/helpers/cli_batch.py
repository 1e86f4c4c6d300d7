"""Run many ``ganzoo`` command lines as real processes that share one torch import.

Each command line runs ``ganzoo.cli.main`` in its own forked child, with its own environment,
working folder, stdout/stderr and exit status, as ``python -m ganzoo`` would. The difference:
the third-party imports (torch above all: seconds on a busy machine) happen once, in the
parent, before the forks; ganzoo itself is imported afresh in every child, so plugin loading
and everything after it runs for real each time. The bad-input catalogue uses this to run
dozens of real command lines in the time of a few interpreter starts.

Used as ``run_cli_batch([Call(...), ...])``; ``python -m tests.helpers.cli_batch IN OUT`` is the
parent process it starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START = time.monotonic()


@dataclass
class Call:
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    timeout: float = 120.0
    #: folders this command sees read-only (a read-only bind mount where the child may make
    #: one, else write permission taken away); see :func:`make_read_only`
    read_only: list[Path] = field(default_factory=list)
    #: the largest file this command may write, in bytes (RLIMIT_FSIZE): a write past it fails
    #: with EFBIG as one past the end of a full disk fails with ENOSPC; see :func:`limit_files`
    file_size_limit: int | None = None


def run_cli_batch(calls: list[Call]) -> list[subprocess.CompletedProcess]:
    """Run each call's ``ganzoo ARGS`` in its own process; results in the same order."""
    with tempfile.TemporaryDirectory() as tmp:
        todo, done = Path(tmp) / "calls.json", Path(tmp) / "results.json"
        todo.write_text(json.dumps([{
            "args": c.args,
            "env": {**os.environ, "PYTHONUNBUFFERED": "1", **c.env},
            "cwd": str(c.cwd or Path.cwd()),
            "timeout": c.timeout,
            "read_only": [str(p) for p in c.read_only],
            "file_size_limit": c.file_size_limit,
        } for c in calls]))
        total = sum(c.timeout for c in calls) + 120
        proc = subprocess.run([sys.executable, "-m", "tests.helpers.cli_batch", str(todo),
                               str(done)], cwd=ROOT, capture_output=True, text=True, timeout=total)
        if proc.returncode != 0:
            raise AssertionError(f"the batch runner failed:\n{proc.stderr}")
        results = json.loads(done.read_text())
    out = []
    for c, r in zip(calls, results):
        done_proc = subprocess.CompletedProcess(["ganzoo", *c.args], r["returncode"],
                                                r["stdout"], r["stderr"])
        done_proc.seconds = r["seconds"]  # type: ignore[attr-defined]
        done_proc.cpu_seconds = r["cpu_seconds"]  # type: ignore[attr-defined]
        out.append(done_proc)
    print(proc.stderr, end="", file=sys.stderr)
    return out


# -- the parent process ----------------------------------------------------------------------

READ_ONLY_FAILED = 77  # the child's exit status when it could not make a folder read-only


def make_read_only(folders: list[str]) -> None:
    """In this (child) process only, make ``folders`` read-only: as root (which ignores
    permissions) a read-only bind mount in a private mount namespace, so writes fail with
    EROFS as on a read-only filesystem; otherwise the write permission bits are removed."""
    if not folders:
        return
    if os.geteuid() != 0:
        for folder in folders:
            for root, dirs, files in os.walk(folder):
                for name in dirs + files:
                    path = os.path.join(root, name)
                    os.chmod(path, os.stat(path).st_mode & ~0o222)
            os.chmod(folder, os.stat(folder).st_mode & ~0o222)
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    clone_newns, ms_rdonly, ms_remount, ms_bind, ms_rec, ms_private = (
        0x00020000, 1, 32, 4096, 16384, 1 << 18)

    def check(result: int, what: str) -> None:
        if result != 0:
            print(f"cli_batch: cannot {what}: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
            os._exit(READ_ONLY_FAILED)

    check(libc.unshare(clone_newns), "unshare the mount namespace")
    check(libc.mount(None, b"/", None, ms_rec | ms_private, None), "make mounts private")
    for folder in folders:
        f = os.fsencode(folder)
        check(libc.mount(f, f, None, ms_bind | ms_rec, None), f"bind-mount {folder}")
        check(libc.mount(None, f, None, ms_remount | ms_bind | ms_rdonly, None),
              f"remount {folder} read-only")


def limit_files(size: int | None) -> None:
    """In this (child) process only, fail every write that would make a file larger than
    ``size`` bytes with EFBIG: a disk that fills up at that size, with no root and no special
    filesystem. SIGXFSZ, which would kill the process instead, is ignored."""
    if size is None:
        return
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def _child(call: dict, out: Path, err: Path) -> None:
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    os.environ.clear()
    os.environ.update(call["env"])
    for entry in reversed(call["env"].get("PYTHONPATH", "").split(os.pathsep)):
        if entry and entry not in sys.path:
            sys.path.insert(1, entry)  # where the interpreter puts PYTHONPATH
    os.chdir(call["cwd"])
    make_read_only(call.get("read_only", []))
    limit_files(call.get("file_size_limit"))
    if call["env"].get("OMP_NUM_THREADS", "").isdigit():  # torch read it at import, in the parent
        import torch

        torch.set_num_threads(int(call["env"]["OMP_NUM_THREADS"]))
    sys.argv = ["ganzoo", *call["args"]]
    code = 0
    try:
        from ganzoo.cli import main

        main(call["args"])
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:  # what the interpreter does with an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run(call: dict, scratch: Path) -> dict:
    out, err = scratch / "stdout", scratch / "stderr"
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            _child(call, out, err)
        finally:
            os._exit(70)
    start = time.monotonic()
    deadline = start + call["timeout"]
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            cpu = usage.ru_utime + usage.ru_stime
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            code, cpu = -9, 0.0
            break
        time.sleep(0.01)
    return {"returncode": code, "stdout": out.read_text(errors="replace"),
            "stderr": err.read_text(errors="replace"), "seconds": time.monotonic() - start,
            "cpu_seconds": cpu}


def _serve(todo: Path, done: Path) -> None:
    import numpy  # noqa: F401
    import PIL.Image  # noqa: F401
    import pluggy  # noqa: F401
    import rich.console  # noqa: F401
    import rich.progress  # noqa: F401
    import rich.table  # noqa: F401
    import safetensors.torch  # noqa: F401
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401  (torch.optim imports it lazily: seconds)
    import typer  # noqa: F401
    import yaml  # noqa: F401

    with contextlib.suppress(ImportError):  # typer imports it, and pydantic, on first parse
        import typer._adapters  # noqa: F401

    assert "ganzoo" not in sys.modules  # each child imports it afresh
    print(f"cli_batch: imports took {time.monotonic() - START:.1f}s", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for call in json.loads(todo.read_text()):
            results.append(_run(call, Path(tmp)))
    done.write_text(json.dumps(results))


if __name__ == "__main__":
    _serve(Path(sys.argv[1]), Path(sys.argv[2]))
