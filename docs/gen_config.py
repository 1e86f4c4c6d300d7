"""Write docs/config.md from the config dataclasses in ganzoo/config.py.

    python docs/gen_config.py          # rewrite docs/config.md
    python docs/gen_config.py --check  # exit 1 if it is out of date

Each field's ``#:`` comment in config.py is its description, so the dataclasses stay the
single source; tests/test_plugin_ecosystem.py fails when the committed file differs from what
this script writes (a field added without a comment fails there too).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "config.md"
HEADER = ("<!-- Generated from ganzoo/config.py by docs/gen_config.py: edit the #: comments "
          "there, then run `python docs/gen_config.py`. -->")


def descriptions(cls: type) -> dict[str, str]:
    """Field name -> the ``#:`` comment lines just above it in ``cls``'s source."""
    found, pending = {}, []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = re.match(r"(\w+)\s*:", stripped)
        if match and pending:
            found[match.group(1)] = " ".join(pending)
        pending = []
    return found


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "(required)"
    if isinstance(value, tuple):
        value = list(value)
    return f"`{value!r}`" if isinstance(value, str) else f"`{value}`"


def table(cls: type, prefix: str) -> list[str]:
    about = descriptions(cls)
    rows = ["| key | type | default | what |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.name not in about:
            raise SystemExit(f"{cls.__name__}.{f.name} has no '#:' comment in ganzoo/config.py")
        kind = str(f.type).replace("|", "or")
        rows.append(f"| `{prefix}{f.name}` | {kind} | {_default(f)} | {about[f.name]} |")
    return rows


def loss_parameters() -> list[str]:
    """A table of the built-in losses that take parameters (from ganzoo/zoo/losses.py)."""
    from ganzoo.zoo import losses

    found: list[tuple[str, dict]] = []
    losses.register_losses(lambda name, **fields: found.append((name, fields.get("params"))))
    rows = ["| loss | parameters (type, default) |", "|---|---|"]
    for name, params in found:
        if params:
            shown = ", ".join(f"`{key}` ({type(value).__name__}, `{value!r}`)"
                              for key, value in params.items())
            rows.append(f"| `{name}` | {shown} |")
    return rows


def render() -> str:
    sys.path.insert(0, str(ROOT))
    from ganzoo.config import DERIVED_FIELDS, DiscriminatorConfig, GeneratorConfig, TrainConfig

    derived = ", ".join(f"`{name}`" for name in DERIVED_FIELDS)
    parts = [
        HEADER, "", "# Recipe and config reference", "",
        "A recipe (`registry.yaml`, a plugin's recipes, `--set KEY=VALUE`) has the sections "
        "`generator`, `discriminator`, `loss`, `regularizers` and `train`. Every key is "
        "type-checked against the dataclasses below; an unknown key or a wrong type is an "
        "error naming the recipe and the key.", "",
        "## `train`", "", *table(TrainConfig, "train."), "",
        "## `loss`", "",
        "A loss's name (`loss: hinge`), or, for a loss with parameters, a mapping with its name "
        "and the values to change: `loss: {name: lsgan, a: -1, b: 1, c: 0}` (a parameter left "
        "out keeps its default). Each parameter has the type of its default (a float one also "
        "takes integers); an unknown name or a wrong type is an error naming the recipe and the "
        "loss's parameters. `--set loss.a=-1` sets one from the command line (a loss written as "
        "a name becomes the mapping), `--set loss=hinge` replaces the loss. `config.json` "
        "records every parameter's value, `ganzoo zoo list --losses` shows each loss's. The "
        "built-in losses with parameters:", "",
        *loss_parameters(), "",
        "## `generator`: the fields every generator config inherits", "",
        "An architecture's config dataclass derives from `ganzoo.config.GeneratorConfig` and "
        f"adds its own fields (`ngf`, `widths`, ...). {derived} are set from the data and "
        "`train.resolution`, never by hand in a model section.", "",
        *table(GeneratorConfig, "generator."), "",
        "## `discriminator`: the fields every discriminator config inherits", "",
        "Derives from `ganzoo.config.DiscriminatorConfig`, the same way.", "",
        *table(DiscriminatorConfig, "discriminator."), "",
        "`ganzoo zoo list --kind architectures --json` and `ganzoo train --arch NAME --set "
        "generator.nosuch=1` (the error lists the valid keys) show an architecture's own "
        "fields.",
    ]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is out of date: run python docs/gen_config.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
