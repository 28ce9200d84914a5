"""CLI commands of the ingest area: init-db, poll-once, import, export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from tqdm import tqdm

from app.cli import command_runtime
from app.db import init_db, session_scope, sync_people


@click.command("init-db")
@click.option("--skip-model", is_flag=True,
              help="Don't train a classifier model when there is none (rules only until retrain).")
@click.pass_context
def init_db_command(ctx: click.Context, skip_model: bool) -> None:
    """Create the database schema, or upgrade it, load the configured people, and make sure a
    classifier model exists (trained from the shipped examples and corrections when missing)."""
    from app.triage.training import ensure_model

    with command_runtime(ctx) as runtime:
        init_db(runtime.engine)
        with session_scope(runtime.sessions) as session:
            sync_people(session, runtime.settings)
        click.echo(f"database ready: {runtime.engine.url.render_as_string(hide_password=True)}")
        if skip_model:
            return
        with runtime.sessions() as session:
            report = ensure_model(runtime.settings, session=session)
    if report is None:
        click.echo(f"model ready: {runtime.settings.model_path}")
    else:
        click.echo(f"model trained on {report.examples} examples and {report.corrections} "
                   f"corrections: {report.path}")


@click.command("poll-once")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@click.pass_context
def poll_once_command(ctx: click.Context, as_json: bool) -> None:
    """Fetch everything new from the mailbox now, and print what it became."""
    from app.ingest.fetch import poll_once

    with command_runtime(ctx) as runtime:
        summary = poll_once(runtime)
    click.echo(json.dumps(summary.as_dict()) if as_json else str(summary))


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@click.pass_context
def import_command(ctx: click.Context, paths: tuple[str, ...], as_json: bool) -> None:
    """Import folders of .eml files or mbox files through the same pipeline as the mailbox."""
    from app.ingest.importer import count_messages, files_in, import_paths

    files = files_in(paths)
    with command_runtime(ctx) as runtime, tqdm(
        total=count_messages(files), unit="mail", file=sys.stderr, disable=None
    ) as bar:
        summary = import_paths(runtime, files, progress=bar.update)
    click.echo(json.dumps(summary.as_dict()) if as_json else str(summary))


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@click.pass_context
def export_command(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Export every stored inbound message, one JSON object per line."""
    from app.ingest.export import export_jsonl

    with command_runtime(ctx) as runtime, session_scope(runtime.sessions) as session:
        if output is None:
            export_jsonl(session, runtime.settings, sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as handle:
                count = export_jsonl(session, runtime.settings, handle)
            click.echo(f"{count} messages written to {output}", err=True)


COMMANDS: tuple[click.Command, ...] = (
    init_db_command,
    poll_once_command,
    import_command,
    export_command,
)
