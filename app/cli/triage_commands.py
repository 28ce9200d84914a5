"""CLI commands of the triage area."""

import click

COMMANDS: tuple[click.Command, ...] = ()
