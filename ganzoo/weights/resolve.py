"""What a name on the command line or in ``ganzoo.load_generator`` means: a run folder, a
``generator.safetensors``, a hub folder, an ``hf://`` reference or a pretrained tag. Every
reader (sample, eval, export, train --init, the Python API) resolves it here, once."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo.components import HF_REFERENCE, NameTable, Weights
from ganzoo.errors import GanzooError, UnknownComponentError
from ganzoo.store.hub import CONFIG_NAME, GENERATOR_NAME, read_hub_config
from ganzoo.weights.sources import HubReference, file_digest, hub_failure, import_hub, parse_hf

_TAG = re.compile(r"[\w.-]+(:[\w.-]+)?")
_HF_REPO = re.compile(r"hf://([A-Za-z0-9][\w.-]*)/([\w.-]+)(?:@([\w.-]+))?/?")


@dataclass(frozen=True)
class Resolved:
    """A local run folder or generator file, and the entry or hub config it came from."""

    path: Path
    entry: Weights | None = None
    hub: dict[str, Any] | None = None

    @property
    def dataset(self) -> str | None:
        """The dataset it was trained on, when known without a run folder."""
        if self.entry is not None and self.entry.dataset:
            return self.entry.dataset
        if self.hub is not None and isinstance(self.hub.get("dataset"), str):
            return self.hub["dataset"] or None
        return None


def is_tag_like(text: str) -> bool:
    return bool(_TAG.fullmatch(text))


def resolve_generator(spec: Any, *, table: NameTable,
                      log: Callable[[str], None] | None = None) -> Resolved:
    """A local path for ``spec``; pretrained weights are fetched and verified on first use.

    A path that exists wins over a tag of the same name. A name that is neither is passed on
    unchanged (its reader says what is missing) unless it resembles a known tag.
    """
    from ganzoo.weights.sources import fetch

    text = str(spec)
    if text.startswith("hf://"):
        return _resolve_hf(text)
    path = Path(text)
    if path.is_dir():
        hub = read_hub_config(path)
        if hub is not None:
            return Resolved(hub_generator(path, hub), hub=hub)
        return Resolved(path)
    if path.exists() or not is_tag_like(text):
        return Resolved(path)
    try:
        component = table.resolve("weights", text)
    except UnknownComponentError:
        close = difflib.get_close_matches(text.split(":")[-1], table.names("weights"), n=1)
        if close:
            raise GanzooError(f"'{text}' is neither a run folder nor a pretrained tag; did you "
                              f"mean '{close[0]}'? ('ganzoo zoo list --pretrained' lists the "
                              "tags)") from None
        return Resolved(path)
    return Resolved(fetch(component.value, log), entry=component.value)


def hub_generator(folder: Path, hub: dict[str, Any]) -> Path:
    """A hub folder's generator file, checked against the sha256 its config.json records."""
    path = folder / GENERATOR_NAME
    if not path.is_file():
        raise GanzooError(f"{folder} is a hub folder without {GENERATOR_NAME}; write it again "
                          "with 'ganzoo export RUN --hub DIR'")
    _, sha256 = file_digest(path)
    if sha256 != hub["generator_sha256"]:
        raise GanzooError(f"{path}: sha256 {sha256}, but {folder / CONFIG_NAME} records "
                          f"{hub['generator_sha256']}; the file was changed or damaged: "
                          "download or export the folder again")
    return path


def parse_hf_target(text: str) -> HubReference:
    """What ``ganzoo sample hf://...`` names: ``hf://OWNER/REPO[@REVISION]`` is a hub folder
    (``filename`` empty), ``hf://OWNER/REPO[@REVISION]/FILE`` one generator file in it."""
    repo = _HF_REPO.fullmatch(text)
    if repo is not None:
        owner, name, revision = repo.groups()
        if not name.strip("."):
            raise GanzooError(f"{text!r}: {name!r} is not a repository name")
        return HubReference(f"{owner}/{name}", "", revision)
    if not HF_REFERENCE.fullmatch(text):
        raise GanzooError(f"{text!r} is not an hf:// reference; write hf://OWNER/REPO (a hub "
                          "folder, as 'ganzoo export RUN --hub DIR' writes it) or "
                          "hf://OWNER/REPO/FILE (a generator file), with @REVISION after REPO "
                          "to pin a branch, tag or commit")
    return parse_hf(text)


def _resolve_hf(text: str) -> Resolved:
    """``hf://OWNER/REPO`` (a hub folder) or ``hf://OWNER/REPO/FILE`` (a generator file),
    through huggingface_hub's own cache (``HF_HUB_OFFLINE=1`` reads only that)."""
    ref = parse_hf_target(text)
    hub = import_hub()
    if ref.filename:
        try:
            local = hub.hf_hub_download(ref.repo_id, ref.filename, revision=ref.revision)
        except Exception as exc:
            raise hub_failure(f"fetching {text}", ref.repo_id, exc) from None
        return Resolved(Path(local))
    try:
        folder = Path(hub.snapshot_download(ref.repo_id, revision=ref.revision,
                                            allow_patterns=[CONFIG_NAME, GENERATOR_NAME,
                                                            "README.md"]))
    except Exception as exc:
        raise hub_failure(f"fetching {text}", ref.repo_id, exc) from None
    config = read_hub_config(folder)
    if config is None:
        raise GanzooError(f"{text} is not a ganzoo hub folder (no config.json with format "
                          f"ganzoo-hub/1); name a file instead: hf://{ref.repo_id}/FILE")
    return Resolved(hub_generator(folder, config), hub=config)
