"""The daily hypercare digest: what came in since yesterday, what is urgent, what waits longest.

Sent to every active superuser each day from the first to the last hypercare day (inclusive),
at the configured time; outside those dates the job does nothing, so hypercare ends by itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import Category, Role, Severity
from app.models import Person, Ticket
from app.reports.collect import DONE
from app.reports.labels import CATEGORY, SEVERITY, STATUS, TOPIC, danish
from app.reports.render import ReportFormat
from app.reports.sending import AUTO_GENERATED, claim_period
from app.runtime import Runtime
from app.services import audit
from app.settings import Settings

DIGEST_JOB = "hypercare_digest"
LONGEST = 5  # how many of the longest-waiting tickets the digest names


@dataclass(frozen=True)
class DigestLine:
    """One ticket as the digest names it."""

    id: int
    subject: str
    category: str
    topic: str
    severity: str
    status: str
    created_at: datetime
    assignee: str


@dataclass(frozen=True)
class Digest:
    """The figures of one day's digest."""

    day: date
    since: datetime
    new_by_category: dict[str, int]
    new_by_topic: dict[str, int]
    urgent: tuple[DigestLine, ...]  # open critical and high faults, most severe first
    longest_waiting: tuple[DigestLine, ...]  # open, unanswered, oldest first

    @property
    def new_total(self) -> int:
        """All tickets that came in since yesterday's digest."""
        return sum(self.new_by_category.values())


def in_hypercare(settings: Settings, day: date) -> bool:
    """True on the days from hypercare's start to its end, both included."""
    return settings.hypercare.covers(day)


def _line(ticket: Ticket) -> DigestLine:
    """A ticket as a digest line."""
    return DigestLine(
        id=ticket.id, subject=ticket.subject, category=ticket.category, topic=ticket.topic,
        severity=ticket.severity, status=ticket.status, created_at=ticket.created_at,
        assignee=ticket.assignee.name if ticket.assignee is not None else "ingen (manuel triage)",
    )


def build_digest(session: Session, settings: Settings, now: datetime) -> Digest:
    """The digest for the day `now` falls in: new tickets since yesterday's digest time."""
    zone = ZoneInfo(settings.instance.timezone)
    day = now.astimezone(zone).date()
    since = datetime.combine(day - timedelta(days=1), settings.hypercare.digest_time, zone)
    since = since.astimezone(UTC)
    new = list(session.scalars(
        select(Ticket).where(Ticket.created_at >= since, Ticket.created_at < now)
    ))
    is_open = Ticket.status.not_in(DONE)
    urgent = session.scalars(
        select(Ticket).where(
            is_open, Ticket.category == Category.FAULT.value,
            Ticket.severity.in_((Severity.CRITICAL.value, Severity.HIGH.value)),
            Ticket.created_at < now,
        ).order_by(Ticket.created_at)
    )
    waiting = session.scalars(
        select(Ticket).where(is_open, Ticket.first_response_at.is_(None), Ticket.created_at < now)
        .order_by(Ticket.created_at, Ticket.id).limit(LONGEST)
    )
    severity_rank = {Severity.CRITICAL.value: 0, Severity.HIGH.value: 1}
    return Digest(
        day=day,
        since=since,
        new_by_category=dict(Counter(t.category for t in new).most_common()),
        new_by_topic=dict(Counter(t.topic for t in new).most_common()),
        urgent=tuple(sorted((_line(t) for t in urgent),
                            key=lambda line: severity_rank.get(line.severity, 2))),
        longest_waiting=tuple(_line(t) for t in waiting),
    )


def render_digest_text(digest: Digest, settings: Settings, now: datetime) -> str:
    """The digest as Danish text (the mail's body)."""
    fmt = ReportFormat(settings)
    ticket_lines = lambda lines: [
        f"  {fmt.ref(t.id)}  {danish(SEVERITY, t.severity)}  {danish(STATUS, t.status)}  "
        f"{fmt.day(t.created_at)}  {(now - t.created_at) // timedelta(days=1)} dage  "
        f"{t.assignee}  {t.subject}" for t in lines
    ] or ["  ingen"]
    lines = [
        f"Nye sager siden i går kl. {settings.hypercare.digest_time:%H:%M}: {digest.new_total}",
        f"  Efter kategori: {fmt.counts(digest.new_by_category, lambda v: danish(CATEGORY, v))}",
        f"  Efter område: {fmt.counts(digest.new_by_topic, lambda v: danish(TOPIC, v))}",
        "",
        f"Åbne kritiske og høje fejl: {len(digest.urgent)}",
        *ticket_lines(digest.urgent),
        "",
        f"Venter længst på første svar ({len(digest.longest_waiting)}):",
        *ticket_lines(digest.longest_waiting),
    ]
    return "\n".join(lines) + "\n"


def digest_recipients(session: Session) -> list[str]:
    """Every active superuser."""
    query = select(Person.email).where(
        Person.role == Role.SUPERUSER.value, Person.active.is_(True)
    )
    return sorted(session.scalars(query))


def send_hypercare_digest(runtime: Runtime) -> str | None:
    """The worker's daily job: queue today's digest inside the hypercare dates, once a day.

    Returns the day sent (ISO date), or None outside hypercare or when it was sent already.
    """
    from app.mail.outbox import enqueue
    from app.mail.templates import render

    now, settings = runtime.now(), runtime.settings
    day = settings.local_date(now)
    if not in_hypercare(settings, day):
        return None
    with runtime.sessions.begin() as session:
        recipients = digest_recipients(session)
        if not recipients or not claim_period(session, DIGEST_JOB, day.isoformat(), now):
            return None
        digest = build_digest(session, settings, now)
        subject, body = render(
            "hypercare_digest", day=f"{day:%d.%m.%Y}",
            body=render_digest_text(digest, settings, now), organisation=settings.smtp.sender_name,
        )
        enqueue(session, settings, kind="hypercare_digest", to=recipients, subject=subject,
                body_text=body, extra_headers=AUTO_GENERATED, now=now)
        audit.record(session, "report.digest_queued", actor_label="worker", at=now,
                     detail={"day": day.isoformat(), "recipients": len(recipients)})
    return day.isoformat()
