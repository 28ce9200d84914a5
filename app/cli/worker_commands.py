"""CLI commands of the worker area."""

import click

COMMANDS: tuple[click.Command, ...] = ()
