"""A weights package's list of entries as a data file (``weights.json``), registered in one
call from a plugin's ``register_weights`` hook.

The file holds ``{"format": "ganzoo-weights/1", "weights": [ENTRY, ...]}``; an entry has the
fields of ``register_weights`` (``tag``, ``file``, ``sha256``, ``size``, ...) except that its
first source is implicit: the file of that name beside ``weights.json``. ``urls`` lists
further sources (``https://``, ``hf://``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.hooktypes import RegisterWeights

CATALOG_FORMAT = "ganzoo-weights/1"
ENTRY_KEYS = ("tag", "file", "sha256", "size", "urls", "recipe", "dataset", "command", "steps",
              "scores", "protocol", "license", "description")


def read_catalog(path: Path) -> list[dict[str, Any]]:
    """The entries of a ``weights.json``; a GanzooError naming the file for anything else."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GanzooError(f"{path} does not exist; the weights package is incomplete: "
                          "reinstall it") from None
    except (ValueError, RecursionError) as exc:
        raise GanzooError(f"{path} is not valid JSON ({type(exc).__name__}); it was edited or "
                          "damaged") from exc
    if not isinstance(data, dict) or data.get("format") != CATALOG_FORMAT \
            or not isinstance(data.get("weights"), list):
        raise GanzooError(f"{path} is not a weights catalog: expected {{\"format\": "
                          f"\"{CATALOG_FORMAT}\", \"weights\": [...]}}")
    for i, entry in enumerate(data["weights"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("tag"), str):
            raise GanzooError(f"{path}: weights[{i}] must be a mapping with a 'tag'")
        unknown = sorted(set(entry) - set(ENTRY_KEYS))
        if unknown:
            raise GanzooError(f"{path}: weights entry '{entry['tag']}' has unknown key(s) "
                              f"{', '.join(unknown)}; known: {', '.join(ENTRY_KEYS)}")
    return data["weights"]


def register_weights_file(register: RegisterWeights, path: Path) -> None:
    """Register every entry of the catalog at ``path`` (call it from ``register_weights``)."""
    path = Path(path)
    for entry in read_catalog(path):
        fields = {k: v for k, v in entry.items() if k not in ("tag", "urls")}
        file = fields.get("file")
        if not isinstance(file, str) or "/" in file or "\\" in file:
            raise GanzooError(f"{path}: weights entry '{entry['tag']}' needs 'file', the name "
                              f"of a file beside {path.name}")
        urls = entry.get("urls", [])
        if not isinstance(urls, list):
            raise GanzooError(f"{path}: 'urls' of '{entry['tag']}' must be a list")
        sources = ([str(path.parent / file)] if (path.parent / file).is_file() else []) + urls
        if not sources:
            raise GanzooError(f"{path}: weights entry '{entry['tag']}' names {file}, which is "
                              "not beside it and has no 'urls'; reinstall the package")
        register(entry["tag"], sources=tuple(sources), **fields)
