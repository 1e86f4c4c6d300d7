"""``ganzoo plugins new NAME``: write a ready-to-install plugin package from templates.

The templates (``templates/*.tmpl``, :class:`string.Template` syntax) ship inside the wheel so
a plain ``pip install ganzoo`` can scaffold plugins too.
"""

from __future__ import annotations

import keyword
import re
import shutil
from importlib import resources
from pathlib import Path
from string import Template

from ganzoo.errors import GanzooError
from ganzoo.hooks import PLUGIN_API

# template file -> path in the new package ($module and $snake are filled in)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "plugin.py.tmpl": "src/$module/__init__.py",
    "registry.yaml.tmpl": "src/$module/registry.yaml",
    "test_plugin.py.tmpl": "tests/test_$snake.py",
}
MAX_NAME = 40


def plugin_names(raw: str) -> dict[str, str]:
    """The names a plugin called ``raw`` gets, or a GanzooError saying what a valid name is.

    ``"Acme"`` -> plugin ``acme``, distribution ``ganzoo-acme``, module ``ganzoo_acme``. Only
    letters, digits, ``-`` and ``_`` are accepted, so a name can never reach outside the
    target folder.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", text):
        raise GanzooError(
            f"invalid plugin name {raw!r}: use letters, digits, '-' and '_', starting with a "
            "letter (e.g. 'acme'); it becomes the folder ganzoo-NAME and the module ganzoo_NAME"
        )
    name = re.sub(r"[-_]+", "-", text).lower().strip("-")
    name = name.removeprefix("ganzoo-")
    if name == "ganzoo":
        raise GanzooError("the plugin name 'ganzoo' is reserved for the built-ins; pick another")
    if len(name) > MAX_NAME:
        raise GanzooError(f"plugin name '{name}' is longer than {MAX_NAME} characters; "
                          "pick a shorter one")
    snake = name.replace("-", "_")
    module = f"ganzoo_{snake}"
    if not module.isidentifier() or keyword.iskeyword(module):
        raise GanzooError(f"plugin name '{name}' does not give a valid Python module name")
    return {
        "name": name,
        "dist": f"ganzoo-{name}",
        "module": module,
        "snake": snake,
        "Class": "".join(part.capitalize() for part in name.split("-")),
        "arch": f"{name}-gan",
        "recipe": f"{name}-gan-32",
    }


def render(template: str, values: dict[str, str]) -> str:
    """One template filled in; a missing value is a bug in ganzoo, so it raises KeyError."""
    source = resources.files(__name__).joinpath("templates", template).read_text("utf-8")
    return Template(source).substitute(values)


def new_plugin(raw_name: str, directory: Path | str = ".") -> Path:
    """Create ``DIRECTORY/ganzoo-NAME/`` (``DIRECTORY``, the parent, too if it is missing)
    and return it; an existing package folder is never touched."""
    from ganzoo.version import __version__

    values = {**plugin_names(raw_name), "ganzoo_version": __version__, "api": str(PLUGIN_API)}
    parent = Path(directory).expanduser()
    if parent.exists() and not parent.is_dir():
        raise GanzooError(f"--dir {directory} is a file; --dir names the folder that gets "
                          f"{values['dist']}/")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanzooError(f"--dir {directory}: cannot create it ({exc.strerror}); choose "
                          "another folder") from exc
    target = parent / values["dist"]
    if target.resolve().parent != parent.resolve():
        raise GanzooError(f"refusing to write {target}: it is outside {parent}")
    try:
        target.mkdir()
    except FileExistsError:
        raise GanzooError(f"{target} already exists; remove it or choose another --dir or "
                          "name (nothing was overwritten)") from None
    try:
        for template, relative in FILES.items():
            path = target / Template(relative).substitute(values)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(template, values), encoding="utf-8")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target
