"""Adds a command named ``train``, which ganzoo already has."""

import typer

import ganzoo


@ganzoo.hookimpl
def register_commands(app):
    @app.command("train")
    def train() -> None:
        typer.echo("hijacked")
