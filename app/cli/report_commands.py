"""CLI commands of the report area: the weekly report, retention, the KOMBIT roster, absence."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from app.cli import command_runtime
from app.db import session_scope


@click.group("report")
def report_group() -> None:
    """Reports for the system responsible and the system owner."""


@report_group.command("weekly")
@click.option("--week", help="ISO week, e.g. 2024-W16 (default: last complete week).")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "html"]), default="text",
              show_default=True)
@click.option("--send", is_flag=True,
              help="Also queue it as mail to the report's recipients (sent by the outbox).")
@click.pass_context
def weekly_command(ctx: click.Context, week: str | None, fmt: str, send: bool) -> None:
    """Print the weekly escalation report for a week."""
    from app.reports.collect import build_weekly_report
    from app.reports.render import render_csv, render_html, render_text
    from app.reports.sending import queue_weekly_report
    from app.reports.weekly import parse_week, previous_week

    renderers = {"text": render_text, "csv": render_csv, "html": render_html}
    with command_runtime(ctx) as runtime, session_scope(runtime.sessions) as session:
        settings = runtime.settings
        tz = settings.instance.timezone
        chosen = parse_week(week, tz) if week else previous_week(runtime.now(), tz)
        report = build_weekly_report(session, settings, chosen)
        click.echo(renderers[fmt](report, settings), nl=False)
        if send:
            queue_weekly_report(session, settings, chosen, runtime.now())
            click.echo(f"report for {chosen.label} queued for sending", err=True)


@click.command("retention")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.pass_context
def retention_command(ctx: click.Context, dry_run: bool) -> None:
    """Delete tickets closed longer than retention.closed_months, with their mail."""
    from app.reports.retention import run_retention

    with command_runtime(ctx) as runtime, session_scope(runtime.sessions) as session:
        result = run_retention(session, runtime.settings, runtime.now(), dry_run=dry_run)
    prefix = runtime.settings.instance.ticket_prefix
    verb = "would delete" if dry_run else "deleted"
    for item in result.tickets:
        click.echo(f"{prefix}-{item.ticket_id}\tclosed {item.closed_at:%Y-%m-%d}\t"
                   f"{item.messages} messages, {item.attachments} attachments, "
                   f"{item.notes} notes, {item.outbound} outbound")
    click.echo(f"{verb} {len(result.tickets)} tickets closed before "
               f"{result.cutoff:%Y-%m-%d}, {result.noise} suppressed noise mails received "
               f"before then, and {result.blobs} stored files")


@click.command("roster")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (required for xlsx unless stdout is redirected).")
@click.pass_context
def roster_command(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Export the role roster for KOMBIT: name, e-mail, phone, role."""
    from app.reports.roster import roster, roster_csv, roster_xlsx

    with command_runtime(ctx) as runtime, session_scope(runtime.sessions) as session:
        entries = roster(session)
    data = roster_xlsx(entries) if fmt == "xlsx" else roster_csv(entries).encode("utf-8")
    if output is not None:
        output.write_bytes(data)
        click.echo(f"{len(entries)} people written to {output}", err=True)
    elif fmt == "xlsx" and sys.stdout.isatty():
        raise click.UsageError("an xlsx file goes to --output FILE or a redirected stdout")
    else:
        click.echo(data, nl=False)  # bytes go to the binary stream unchanged


@click.command("away")
@click.argument("email")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Away until and including this date (YYYY-MM-DD).")
@click.option("--back", is_flag=True, help="Present again from now on.")
@click.option("--keep-tickets", is_flag=True, help="Do not hand open tickets on to colleagues.")
@click.pass_context
def away_command(ctx: click.Context, email: str, until: object, back: bool,
                 keep_tickets: bool) -> None:
    """Mark a person away until a date (their open tickets are handed on), or back."""
    from app.services.people import find_person, hand_on, mark_away, mark_back

    if back == (until is not None):
        raise click.UsageError("give either --until DATE or --back")
    with command_runtime(ctx) as runtime, session_scope(runtime.sessions) as session:
        today = runtime.settings.local_date(runtime.now())
        person = find_person(session, email)
        if back:
            mark_back(session, person)
            click.echo(f"{person.name} is back")
            return
        day: date = until.date()  # type: ignore[attr-defined]
        mark_away(session, person, day, today=today)
        handed = [] if keep_tickets else hand_on(session, runtime.settings, person, today=today)
    click.echo(f"{person.name} is away until {day:%Y-%m-%d}; {len(handed)} open tickets handed on")
    prefix = runtime.settings.instance.ticket_prefix
    for item in handed:
        click.echo(f"  {prefix}-{item.ticket_id} -> {item.to_email or 'manual triage'}")


COMMANDS: tuple[click.Command, ...] = (report_group, retention_command, roster_command,
                                       away_command)
