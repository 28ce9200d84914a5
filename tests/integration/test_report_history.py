"""Factory helpers for report tests (tickets, mail, forwards, a generated quarter), and the weekly
report over a realistic quarter checked against direct counts in the database.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    AttachmentRecord,
    Blob,
    Correction,
    Forward,
    InboundMessage,
    Note,
    OutboundMessage,
    Person,
    Ticket,
)
from app.reports.collect import build_weekly_report, done_at
from app.reports.render import render_csv, render_html, render_text
from app.reports.weekly import week_of_day
from app.runtime import Runtime

TZ = "Europe/Copenhagen"
CATEGORIES = ("question", "fault", "change_request")
TOPICS = ("sagsbehandling", "oekonomi", "breve", "adgang", "opsaetning",
          "ledelsesinformation", "andet")
SUBJECTS = {
    "question": ("Hvordan opretter jeg en handleplan?", "Hvor finder jeg skabelonen til partshøring?",
                 "Kan man flytte en underretning til en anden sag?", "Spørgsmål om bevilling"),
    "fault": ("Fejlbesked ved gem af journalnotat", "Udbetaling til plejefamilie hænger",
              "Kan ikke logge ind i DUBU i dag", "Digital Post-brev sendes ikke"),
    "change_request": ("Ønske: nyt felt i børnefaglig undersøgelse", "Forslag til bedre oversigt",
                       "Kan vi få en ny journalfrase?", "Ønske om rapport over bevillinger"),
}


def person(session: Session, email: str) -> Person:
    """A configured person by address."""
    return session.scalars(select(Person).where(Person.email == email)).one()


def blob(session: Session, data: bytes) -> str:
    """Store bytes once, by SHA-256; the hash."""
    digest = hashlib.sha256(data).hexdigest()
    if session.get(Blob, digest) is None:
        session.add(Blob(sha256=digest, size=len(data), data=data))
        session.flush()
    return digest


def add_message(session: Session, *, kind: str, received_at: datetime,
                ticket: Ticket | None = None, sender: str = "sagsbehandler@korsbaek.dk",
                noise_kind: str | None = None, raw: bytes | None = None,
                attachments: tuple[bytes, ...] = ()) -> InboundMessage:
    """One stored inbound mail with its raw bytes (and attachments) in blobs."""
    raw = raw or f"Subject: {kind} {received_at.isoformat()} {random.random()}\r\n\r\nhej\r\n".encode()
    message = InboundMessage(
        message_id=f"{hashlib.sha256(raw).hexdigest()[:24]}@test", raw_sha256=blob(session, raw),
        raw_size=len(raw), source="import", received_at=received_at, stored_at=received_at,
        kind=kind, ticket_id=ticket.id if ticket is not None else None, sender=sender,
        subject=ticket.subject if ticket is not None else kind, noise_kind=noise_kind,
        error="kunne ikke læses" if kind == "quarantined" else None,
    )
    session.add(message)
    session.flush()
    for index, data in enumerate(attachments):
        session.add(AttachmentRecord(message_id=message.id, filename=f"bilag{index}.pdf",
                                     size=len(data), sha256=blob(session, data)))
    session.flush()
    return message


def add_ticket(session: Session, *, created_at: datetime, category: str = "question",
               topic: str = "sagsbehandling", severity: str = "normal",
               response_after: timedelta | None = None, resolved_after: timedelta | None = None,
               closed_after: timedelta | None = None, abstained: bool = False,
               assignee: Person | None = None, nc_case: str | None = None,
               subject: str | None = None, attachments: tuple[bytes, ...] = ()) -> Ticket:
    """A ticket with its first mail; status follows the timestamps given."""
    resolved = created_at + resolved_after if resolved_after is not None else None
    closed = created_at + closed_after if closed_after is not None else None
    status = "closed" if closed else "resolved" if resolved else "open" if response_after else "new"
    ticket = Ticket(
        subject=subject or f"{category} om {topic}", requester="sagsbehandler@korsbaek.dk",
        category=category, topic=topic, severity=severity, abstained=abstained, status=status,
        assignee_id=assignee.id if assignee is not None else None, nc_case=nc_case,
        created_at=created_at, updated_at=closed or resolved or created_at,
        first_response_at=created_at + response_after if response_after is not None else None,
        resolved_at=resolved, closed_at=closed,
    )
    session.add(ticket)
    session.flush()
    add_message(session, kind="ticket", received_at=created_at, ticket=ticket,
                attachments=attachments)
    return ticket


def add_forward(session: Session, ticket: Ticket, *, target: str, at: datetime,
                by: Person) -> Forward:
    """A forward to the service desk or KOMBIT, with the outbound mail it sent."""
    to = "servicedesk@netcompany.example" if target == "netcompany" else "dubu@kombit.dk"
    outbound = OutboundMessage(
        message_id=f"dubu-triage.DUBU-{ticket.id}.fwd.{random.getrandbits(40):x}@korsbaek.dk",
        ticket_id=ticket.id, kind=f"forward_{target}", to_addrs=[to], subject=ticket.subject,
        body_text="videresendt", status="sent", created_at=at, sent_at=at,
    )
    session.add(outbound)
    session.flush()
    forward = Forward(ticket_id=ticket.id, target=target, to_addr=to, by_id=by.id, at=at,
                      reason="fejl i DUBU", severity=ticket.severity, subject=ticket.subject,
                      body_sent="videresendt", outbound_id=outbound.id)
    session.add(forward)
    if target == "netcompany":
        ticket.forwarded_at = at
    session.flush()
    return forward


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Copenhagen wall-clock time as UTC."""
    return datetime.combine(day, time(hour, minute), ZoneInfo(TZ)).astimezone(UTC)


def generate_quarter(session: Session, start: date, weeks: int = 13, seed: int = 7) -> int:
    """Thirteen weeks of history: tickets of every kind, answers, forwards, noise, corrections.

    Returns how many tickets were made. Working days get 4-12 tickets between 07:00 and 16:00;
    most are answered within hours, faults sometimes go to Netcompany (with an NC number once
    the service desk replied), national change requests to KOMBIT; a few are still open.
    """
    rng = random.Random(seed)
    lene, mads = person(session, "lene.mortensen@korsbaek.dk"), person(session, "mads.kjaer@korsbaek.dk")
    made = 0
    for offset in range(weeks * 7):
        day = start + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for _ in range(rng.randint(4, 12)):
            made += 1
            _one_ticket(session, rng, local(day, rng.randint(7, 15), rng.randint(0, 59)), lene, mads)
        for _ in range(rng.randint(0, 4)):
            add_message(session, kind="noise", received_at=local(day, rng.randint(0, 23)),
                        noise_kind=rng.choice(("autoreply", "bounce", "newsletter", "spam")),
                        sender="postmaster@korsbaek.dk")
        if rng.random() < 0.2:
            add_message(session, kind="quarantined", received_at=local(day, 12))
    return made


def _one_ticket(session: Session, rng: random.Random, created: datetime, lene: Person,
                mads: Person) -> None:
    """One generated ticket with its follow-ups, forwards and corrections."""
    category = rng.choices(CATEGORIES, weights=(5, 3, 2))[0]
    severity = rng.choices(("critical", "high", "normal"), weights=(1, 3, 8))[0] \
        if category == "fault" else "normal"
    answered = rng.random() < 0.93
    response = timedelta(minutes=rng.randint(5, 60 * 48)) if answered else None
    resolved = response + timedelta(hours=rng.randint(1, 24 * 20)) if answered and rng.random() < 0.85 else None
    ticket = add_ticket(
        session, created_at=created, category=category, topic=rng.choice(TOPICS),
        severity=severity, subject=rng.choice(SUBJECTS[category]), response_after=response, resolved_after=resolved,
        closed_after=resolved + timedelta(days=3) if resolved and rng.random() < 0.5 else None,
        abstained=rng.random() < 0.08, assignee=lene,
    )
    if category == "fault" and rng.random() < 0.4:
        at = created + timedelta(hours=rng.randint(1, 30))
        add_forward(session, ticket, target="netcompany", at=at, by=lene)
        if rng.random() < 0.7:
            ticket.nc_case = f"NC-{rng.randint(100000, 999999)}"
            add_message(session, kind="followup", ticket=ticket, sender="servicedesk@netcompany.example",
                        received_at=at + timedelta(hours=rng.randint(2, 96)))
    if category == "change_request" and rng.random() < 0.5:
        add_forward(session, ticket, target="kombit", at=created + timedelta(days=1), by=mads)
    if rng.random() < 0.1:
        session.add(Correction(ticket_id=ticket.id, by_id=lene.id, at=created + timedelta(hours=2),
                               old_category="question", old_topic=ticket.topic,
                               old_severity="normal", category=ticket.category,
                               topic=rng.choice(TOPICS), severity=ticket.severity))
    if rng.random() < 0.3:
        session.add(Note(ticket_id=ticket.id, author_id=lene.id, body="intern note",
                         created_at=created + timedelta(hours=1)))
    session.flush()


def _count_created(session: Session, start: datetime, end: datetime) -> int:
    """Tickets created in [start, end), counted by SQL."""
    return int(session.scalar(select(func.count(Ticket.id)).where(
        Ticket.created_at >= start, Ticket.created_at < end)) or 0)


def test_quarter_reports_agree_with_the_database(runtime: Runtime) -> None:
    """Each of 13 weekly reports adds up, and agrees with counts made straight from the rows."""
    start = date(2024, 4, 8)
    with runtime.sessions.begin() as session:
        made = generate_quarter(session, start)
    total = 0
    with runtime.sessions() as session:
        tickets = list(session.scalars(select(Ticket)))
        for number in range(13):
            week = week_of_day(start + timedelta(days=7 * number), TZ)
            report = build_weekly_report(session, runtime.settings, week)
            assert report.created == _count_created(session, week.start, week.end) > 0
            assert sum(report.by_category.values()) == sum(report.by_topic.values()) == report.created
            assert sum(report.fault_severity.values()) == report.by_category["fault"]
            still_open = [t for t in tickets if t.created_at < week.end
                          and (done_at(t) is None or done_at(t) >= week.end)]
            assert report.backlog_total == len(still_open)
            assert all(f.ticket_id is not None and f.forwarded_at < week.end for f in report.forwards)
            assert all(f.open for f in report.waiting_forwards)
            total += report.created
            assert "Ugerapport" in render_text(report, runtime.settings)
            assert render_csv(report, runtime.settings).startswith("sektion,emne,værdi")
        assert total == made
        html = render_html(report, runtime.settings)
    assert html.count('<img src="data:image/svg+xml;base64,') == 3
    assert "http://" not in html and "https://" not in html  # nothing fetched from elsewhere
