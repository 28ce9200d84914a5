"""CLI commands of the worker area: `worker` (the long-running process) and `send-outbox`."""

from __future__ import annotations

import json
import logging

import click

from app.cli import command_runtime, get_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@click.command("worker")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.pass_context
def worker_command(ctx: click.Context, log_level: str) -> None:
    """Run the worker: poll the mailbox and send the outbox until SIGTERM or Ctrl-C."""
    from app.worker import main as worker_main

    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT)
    # APScheduler logs every job run at INFO: noise in a process that runs for months.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    worker_main(get_settings(ctx))


@click.command("send-outbox")
@click.option("--limit", default=1000, show_default=True, help="At most this many mails.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@click.pass_context
def send_outbox_command(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Send the mail that is due in the outbox now, and print what happened."""
    from app.mail.outbox import send_pending

    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    with command_runtime(ctx) as runtime:
        report = send_pending(runtime, limit=limit)
    if as_json:
        click.echo(json.dumps({"sent": report.sent, "failed": report.failed,
                               "deferred": report.deferred}))
    else:
        click.echo(str(report))


COMMANDS: tuple[click.Command, ...] = (worker_command, send_outbox_command)
