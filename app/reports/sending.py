"""The weekly report as a Danish mail, queued in the outbox once per week.

A `JobRun` row (job, period) is written in the same transaction as the outbox mail: when two
workers or a restarted one run the job for the same week, the second insert fails on the
unique (job, period) and nothing is queued twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain import Role
from app.models import JobRun, Person
from app.reports.collect import build_weekly_report
from app.reports.render import ReportFormat, render_text
from app.reports.weekly import Week, previous_week
from app.runtime import Runtime
from app.services import audit
from app.settings import Settings

WEEKLY_JOB = "weekly_report"
# RFC 3834: a report is generated, not a reply; out-of-office robots must not answer it.
AUTO_GENERATED = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}


def claim_period(session: Session, job: str, period: str, now: datetime) -> bool:
    """Record that `job` runs for `period`; False when it already has (nothing is changed)."""
    try:
        with session.begin_nested():
            session.add(JobRun(job=job, period=period, at=now))
    except IntegrityError:
        return False
    return True


def report_recipients(session: Session, settings: Settings) -> list[str]:
    """The configured recipients, or else the active system responsible and system owner."""
    if settings.reports.recipients:
        return [address.lower() for address in settings.reports.recipients]
    roles = (Role.SYSTEM_RESPONSIBLE.value, Role.SYSTEM_OWNER.value)
    query = select(Person.email).where(Person.role.in_(roles), Person.active.is_(True))
    return sorted(session.scalars(query))


def queue_weekly_report(session: Session, settings: Settings, week: Week, now: datetime) -> int:
    """Queue the week's report mail in the caller's transaction; the outbox row's id."""
    from app.mail.outbox import enqueue
    from app.mail.templates import render

    report = build_weekly_report(session, settings, week)
    recipients = report_recipients(session, settings)
    url = f"{settings.instance.base_url.rstrip('/')}/reports/weekly?week={week.label}"
    text = render_text(report, settings, title=False)
    subject, body = render(
        "weekly_report",
        period=ReportFormat(settings).period(report),
        body=f"{text}\nRapporten med diagrammer: {url}",
        organisation=settings.smtp.sender_name,
    )
    message = enqueue(
        session, settings, kind="weekly_report", to=recipients, subject=subject,
        body_text=body, extra_headers=AUTO_GENERATED, now=now,
    )
    audit.record(session, "report.weekly_queued", actor_label="worker", at=now,
                 detail={"week": week.label, "recipients": recipients})
    session.flush()
    return message.id


def send_weekly_report(runtime: Runtime) -> str | None:
    """The worker's weekly job: queue last week's report unless it was queued already.

    Returns the week sent, or None when it had been sent before (or no one is to receive it).
    """
    now = runtime.now()
    settings = runtime.settings
    week = previous_week(now, settings.instance.timezone)
    with runtime.sessions.begin() as session:
        if not report_recipients(session, settings):
            return None
        if not claim_period(session, WEEKLY_JOB, week.label, now):
            return None
        queue_weekly_report(session, settings, week, now)
    return week.label
