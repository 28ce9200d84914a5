"""The `dubu-triage` command: a thin click group; each area adds its commands from its module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from app.errors import DubuTriageError
from app.settings import Settings, load_settings

if TYPE_CHECKING:
    from app.runtime import Runtime

COMMAND_MODULES = (
    "app.cli.ingest_commands",
    "app.cli.triage_commands",
    "app.cli.web_commands",
    "app.cli.report_commands",
    "app.cli.worker_commands",
)


class _Group(click.Group):
    """A group that turns our own errors into one clear line and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a DubuTriageError becomes a message, not a traceback."""
        try:
            return super().invoke(ctx)
        except DubuTriageError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="DUBU_TRIAGE_CONFIG",
    help="The TOML configuration file (default: $DUBU_TRIAGE_CONFIG, else built-in defaults).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """dubu-triage: the DUBU mailbox turned into triaged, routed tickets."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def get_settings(ctx: click.Context) -> Settings:
    """The settings named on the command line, loaded once per invocation."""
    root = ctx.find_root()
    root.ensure_object(dict)
    if "settings" not in root.obj:
        root.obj["settings"] = load_settings(root.obj.get("config_path"))
    return root.obj["settings"]


@contextmanager
def command_runtime(ctx: click.Context) -> Iterator[Runtime]:
    """The runtime of one command on the configured database, disposed when it ends."""
    from app.runtime import open_runtime

    runtime = open_runtime(get_settings(ctx))
    try:
        yield runtime
    finally:
        runtime.dispose()


def _register() -> None:
    """Add every area's commands to the group."""
    import importlib

    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        for command in getattr(module, "COMMANDS", ()):
            main.add_command(command)


_register()
