"""``register_commands``: each plugin adds its commands to the CLI, one plugin at a time."""

from __future__ import annotations

from typing import Any

import typer
from typer.main import get_command_name

from ganzoo.errors import GanzooError
from ganzoo.host.loader import PluginHost, fail_plugin
from ganzoo.host.registration import call_hook


def _command_names(commands: list[Any], groups: list[Any]) -> list[str]:
    names = [info.name or get_command_name(info.callback.__name__) for info in commands]
    names += [info.name or info.typer_instance.info.name for info in groups]
    return [n for n in names if n]


def add_commands(host: PluginHost, app: typer.Typer) -> None:
    """Let each plugin add commands to ``app`` (``register_commands``), one plugin at a time.

    A plugin whose hook raises, or that adds a command ganzoo already has, is taken out and
    reported like any plugin that fails to load; the CLI keeps working.
    """
    if host.commands_added:
        return
    host.commands_added = True
    for impl in host.pm.hook.register_commands.get_hookimpls():
        status = host.owners.get(impl.plugin_name)
        if status is None:  # registered straight on host.pm, outside this module: no status
            call_hook(impl, "register_commands", app=app)
            continue
        commands, groups = list(app.registered_commands), list(app.registered_groups)
        existing = _command_names(commands, groups)
        try:
            call_hook(impl, "register_commands", app=app)
            added = _command_names(app.registered_commands[len(commands):],
                                   app.registered_groups[len(groups):])
            clashes = sorted({n for n in added if n in existing or added.count(n) > 1})
            if clashes:
                raise GanzooError(f"adds the command(s) {', '.join(clashes)} that the ganzoo "
                                  "command line already has; give its commands other names")
            status.commands += added
        except (Exception, SystemExit) as exc:
            app.registered_commands[:], app.registered_groups[:] = commands, groups
            if status.builtin:
                raise
            fail_plugin(host, impl.plugin, status, exc)
