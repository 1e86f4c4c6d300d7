"""Getting a weights file onto this machine, verified: a file in an installed package, the
``GANZOO_WEIGHTS_DIR`` mirror, the cache, ``https://`` URLs and ``hf://`` references.

A download streams into a hidden temporary file beside its place in the cache, hashing as it
goes; only a file of the entry's exact size and sha256 is renamed into place, so the cache
never holds, and nothing ever reads, a half-written or wrong file. Files are only ever read
as safetensors: nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ganzoo.components import HF_REFERENCE, Weights
from ganzoo.errors import GanzooError
from ganzoo.fileio import cache_dir, fsync_dir, open_temp

CHUNK = 1 << 20
TIMEOUT_S = 60
HUB_EXTRA = "pip install 'ganzoo[hub]'"


def weights_dir() -> Path | None:
    """The offline mirror folder, ``GANZOO_WEIGHTS_DIR``, if set."""
    value = os.environ.get("GANZOO_WEIGHTS_DIR")
    return Path(value) if value else None


def cached_path(entry: Weights) -> Path:
    """Where a verified download of ``entry`` lives: keyed by its sha256, so a changed entry
    never reuses an old file."""
    return cache_dir() / "weights" / entry.sha256 / entry.file


def file_digest(path: Path) -> tuple[int, str]:
    """The size and sha256 of a file."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def check_bytes(entry: Weights, size: int, sha256: str, where: str) -> None:
    """A GanzooError naming what was expected and what was found, unless both match."""
    if size != entry.size:
        raise GanzooError(f"weights '{entry.name}' from {where}: {size} bytes, expected "
                          f"{entry.size} (sha256 {sha256}, expected {entry.sha256}); the "
                          "file is truncated or not this entry's: fetch it again or fix the "
                          "entry")
    if sha256 != entry.sha256:
        raise GanzooError(f"weights '{entry.name}' from {where}: sha256 {sha256}, expected "
                          f"{entry.sha256}; the file is damaged or not this entry's: fetch it "
                          "again or fix the entry")


def verified_local(entry: Weights, path: Path) -> Path:
    """``path`` if it holds exactly ``entry``'s bytes; a GanzooError otherwise."""
    size, sha256 = file_digest(path)
    check_bytes(entry, size, sha256, str(path))
    return path


@dataclass(frozen=True)
class HubReference:
    """``hf://OWNER/REPO[@REVISION]/FILE`` taken apart."""

    repo_id: str
    filename: str
    revision: str | None = None


def parse_hf(reference: str) -> HubReference:
    match = HF_REFERENCE.fullmatch(reference)
    if not match:
        raise GanzooError(f"{reference!r} is not an hf:// reference; write "
                          "hf://OWNER/REPO/FILE or hf://OWNER/REPO@REVISION/FILE")
    owner, repo, revision, filename = match.groups()
    if ".." in filename.split("/"):
        raise GanzooError(f"{reference!r}: the file path may not contain '..'")
    if not repo.strip("."):
        raise GanzooError(f"{reference!r}: {repo!r} is not a repository name")
    return HubReference(f"{owner}/{repo}", filename, revision)


def import_hub():
    """huggingface_hub, imported only when an ``hf://`` source is used."""
    try:
        import huggingface_hub
    except ImportError:
        raise GanzooError("hf:// sources need huggingface_hub, which is not installed: "
                          f"{HUB_EXTRA} (or pip install huggingface_hub)") from None
    return huggingface_hub


def hub_failure(what: str, repo_id: str, exc: Exception) -> GanzooError:
    """One line for a huggingface_hub failure (its messages may span lines), saying how to
    get the file when offline mode kept the hub from being asked."""
    detail = " ".join(str(exc).split())
    try:
        from huggingface_hub import constants

        offline = bool(constants.HF_HUB_OFFLINE)
    except (ImportError, AttributeError):
        offline = False
    hint = ("; HF_HUB_OFFLINE is set, so only huggingface_hub's cache was read: fetch it once "
            f"online (hf download {repo_id}) or unset HF_HUB_OFFLINE" if offline else "")
    return GanzooError(f"{what} failed ({type(exc).__name__}: {detail}){hint}")


def _stream_into(target: Path, write: Callable[[Callable[[bytes], None]], None],
                 entry: Weights, where: str) -> Path:
    """Run ``write(put)`` into ``target``'s temporary file, check size and sha256 on the way,
    and rename it into place only when both match; the temporary file never survives."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = open_temp(target)
    digest, written = hashlib.sha256(), [0]

    def put(chunk: bytes) -> None:
        written[0] += len(chunk)
        if written[0] > entry.size:
            raise GanzooError(f"weights '{entry.name}' from {where}: more than the expected "
                              f"{entry.size} bytes; the source is not this entry's file")
        digest.update(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]

    try:
        try:
            write(put)
            os.fsync(fd)
        finally:
            os.close(fd)
        check_bytes(entry, written[0], digest.hexdigest(), where)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def download_url(entry: Weights, url: str, target: Path) -> Path:
    """Stream ``url`` to ``target``, verified (see :func:`_stream_into`)."""

    def write(put: Callable[[bytes], None]) -> None:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310
                while chunk := response.read(CHUNK):
                    put(chunk)
        except urllib.error.HTTPError as exc:
            raise GanzooError(f"downloading weights '{entry.name}' from {url} failed: HTTP "
                              f"{exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GanzooError(f"downloading weights '{entry.name}' from {url} failed "
                              f"({type(exc).__name__}: {reason}); check the network, or put "
                              f"{entry.file} in a folder named by GANZOO_WEIGHTS_DIR") from None

    return _stream_into(target, write, entry, url)


def download_hf(entry: Weights, reference: str, target: Path) -> Path:
    """Fetch ``hf://OWNER/REPO/FILE`` through huggingface_hub (its own cache; offline with
    ``HF_HUB_OFFLINE=1``), then copy it into ``target``, verified."""
    ref = parse_hf(reference)
    hub = import_hub()
    try:
        local = hub.hf_hub_download(ref.repo_id, ref.filename, revision=ref.revision)
    except Exception as exc:  # the hub's errors have no common base worth naming
        raise hub_failure(f"fetching weights '{entry.name}' from {reference}", ref.repo_id,
                          exc) from None

    def write(put: Callable[[bytes], None]) -> None:
        with open(local, "rb") as f:
            while chunk := f.read(CHUNK):
                put(chunk)

    return _stream_into(target, write, entry, reference)


def fetch(entry: Weights, log: Callable[[str], None] | None = None) -> Path:
    """A local path holding exactly ``entry``'s bytes: the mirror, the cache, then each
    source in order. One GanzooError naming every failure if none works."""
    log = log or (lambda message: None)
    failures: list[str] = []
    mirror = weights_dir()
    if mirror is not None and (mirror / entry.file).is_file():
        try:
            return verified_local(entry, mirror / entry.file)
        except GanzooError as exc:
            failures.append(f"GANZOO_WEIGHTS_DIR: {exc}")
    target = cached_path(entry)
    if target.is_file():
        try:
            return verified_local(entry, target)
        except GanzooError as exc:  # damaged since: fetch it again below
            failures.append(f"cache: {exc}")
            target.unlink(missing_ok=True)
    for source in entry.sources:
        try:
            if source.startswith("hf://"):
                log(f"fetching {entry.name} from {source}")
                return download_hf(entry, source, target)
            if source.startswith(("https://", "http://")):
                log(f"downloading {entry.name} from {source}")
                return download_url(entry, source, target)
            if not Path(source).is_file():
                raise GanzooError(f"{source} does not exist; reinstall the plugin that "
                                  "registers it")
            return verified_local(entry, Path(source))
        except GanzooError as exc:
            failures.append(str(exc))
    if len(failures) == 1:
        raise GanzooError(failures[0])
    raise GanzooError(f"no source of weights '{entry.name}' worked: " + "; ".join(
        f"({i}) {why}" for i, why in enumerate(failures, 1)))

