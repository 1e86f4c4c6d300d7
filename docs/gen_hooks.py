"""Write docs/hooks.md from the docstrings in ganzoo/hookspecs.py.

    python docs/gen_hooks.py          # rewrite docs/hooks.md
    python docs/gen_hooks.py --check  # exit 1 if it is out of date

hookspecs.py stays the single source; tests/test_plugin_ecosystem.py fails when the committed
file differs from what this script writes.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "hooks.md"
HEADER = ("<!-- Generated from ganzoo/hookspecs.py by docs/gen_hooks.py: edit the docstrings "
          "there, then run `python docs/gen_hooks.py`. -->")


def hook_sections(source: str) -> list[tuple[str, str]]:
    """(banner title, hook name) in source order; a banner is a ``# Title`` between rules."""
    out, title = [], ""
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if (line.startswith("# ---") and i + 2 < len(lines) and lines[i + 2].startswith("# ---")
                and lines[i + 1].startswith("# ")):
            title = lines[i + 1][2:].strip()
        match = re.match(r"def (register_\w+)\(", line)
        if match and i > 0 and lines[i - 1].strip() == "@hookspec":
            out.append((title, match.group(1)))
    return out


def inline(text: str) -> str:
    """reST inline markup -> Markdown: ``x`` and :role:`x` become `x` (also across lines)."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``(.+?)``", r"`\1`", text, flags=re.S)


def to_markdown(doc: str) -> str:
    """A hookspec docstring (reST subset) as Markdown: ``::`` blocks fenced, :param: lists."""
    chunks: list[tuple[bool, str]] = []  # (is code, text)
    lines = inspect.cleandoc(doc).splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            lead = line.rstrip()[:-2].rstrip()
            if lead:
                chunks.append((False, lead + ":"))
            i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            code = textwrap.dedent("\n".join(block)).strip("\n")
            language = "toml" if code.lstrip().startswith("[") else "python"
            chunks.append((True, f"\n```{language}\n{code}\n```\n"))
            continue
        param = re.match(r":param (\w+):\s*(.*)", line)
        if param:
            para = [param.group(2)]
            i += 1
            while i < len(lines) and lines[i].startswith(" "):
                para.append(lines[i].strip())
                i += 1
            chunks.append((False, f"**``{param.group(1)}``**: " + " ".join(para)))
            continue
        chunks.append((False, line.strip() if line.startswith(" ") else line))
        i += 1
    out, plain = [], []
    for is_code, text in chunks + [(True, "")]:
        if is_code:
            out += [inline("\n".join(plain)), text]
            plain = []
        else:
            plain.append(text)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"


def render() -> str:
    sys.path.insert(0, str(ROOT))
    from ganzoo import hookspecs
    from ganzoo.hooks import PLUGIN_API

    source = Path(hookspecs.__file__).read_text(encoding="utf-8")
    parts = [HEADER, "", "# Hooks reference", "", to_markdown(hookspecs.__doc__ or ""),
             f"This reference is for plugin API version {PLUGIN_API}.", ""]
    sections = hook_sections(source)
    parts += ["Hooks:", ""]
    parts += [f"- [`{name}`](#{name})" for _, name in sections]
    parts.append("")
    current = None
    for title, name in sections:
        if title != current:
            parts += [f"## {title}", ""]
            current = title
        function = getattr(hookspecs, name)
        signature = f"{name}({', '.join(inspect.signature(function).parameters)})"
        parts += [f"### {name}", "", f"`{signature}`", "", to_markdown(function.__doc__ or "")]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is out of date: run python docs/gen_hooks.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
