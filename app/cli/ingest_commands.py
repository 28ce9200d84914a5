"""CLI commands of the ingest area."""

import click

COMMANDS: tuple[click.Command, ...] = ()
