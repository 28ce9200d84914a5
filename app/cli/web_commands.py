"""CLI commands of the web area."""

import click

COMMANDS: tuple[click.Command, ...] = ()
