"""CLI commands of the report area."""

import click

COMMANDS: tuple[click.Command, ...] = ()
