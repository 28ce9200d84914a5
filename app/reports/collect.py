"""Reading one week's rows from the database for the weekly report (the figures are in weekly.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.domain import MessageKind, TicketStatus
from app.models import Correction, Forward, InboundMessage, Person, Ticket
from app.reports.labels import STATUS, danish
from app.reports.weekly import (
    CorrectionFacts,
    ForwardLine,
    KombitLine,
    TicketFacts,
    Week,
    WeeklyReport,
    compute_report,
)
from app.settings import Settings

DONE = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


def done_at(ticket: Ticket) -> datetime | None:
    """When a ticket stopped needing work: resolved or closed, whichever came first."""
    moments = [m for m in (ticket.resolved_at, ticket.closed_at) if m is not None]
    if moments:
        return min(moments)
    # A ticket marked done without a timestamp is done since its last change.
    return ticket.updated_at if ticket.status in DONE else None


def _relevant_tickets(session: Session, week: Week) -> list[Ticket]:
    """Tickets created before the week's end that were still alive in it or answered in it."""
    still_alive = or_(
        and_(Ticket.resolved_at.is_(None), Ticket.closed_at.is_(None)),
        Ticket.resolved_at >= week.start,
        Ticket.closed_at >= week.start,
        Ticket.first_response_at >= week.start,
    )
    query = select(Ticket).where(Ticket.created_at < week.end, still_alive).order_by(Ticket.id)
    return list(session.scalars(query))


def _ticket_facts(session: Session, week: Week) -> list[TicketFacts]:
    """The report's view of the week's tickets, with whether each was corrected by week's end."""
    corrected = set(
        session.scalars(
            select(Correction.ticket_id).where(
                Correction.ticket_id.is_not(None), Correction.at < week.end
            )
        )
    )
    return [
        TicketFacts(
            id=t.id,
            subject=t.subject,
            category=t.category,
            topic=t.topic,
            severity=t.severity,
            abstained=t.abstained,
            status=t.status,
            created_at=t.created_at,
            first_response_at=t.first_response_at,
            done_at=done_at(t),
            nc_case=t.nc_case,
            corrected=t.id in corrected,
        )
        for t in _relevant_tickets(session, week)
    ]


def _service_desk_replied(
    session: Session, ticket_id: int, after: datetime, before: datetime, domain: str
) -> bool:
    """True when the service desk's domain wrote to the ticket between forwarding and `before`."""
    count = session.scalar(
        select(func.count(InboundMessage.id)).where(
            InboundMessage.ticket_id == ticket_id,
            InboundMessage.received_at > after,
            InboundMessage.received_at < before,
            InboundMessage.sender.like(f"%@{domain}"),
        )
    )
    return bool(count)


def _forward_lines(session: Session, settings: Settings, week: Week) -> list[ForwardLine]:
    """Faults at the service desk: forwarded in the week, or forwarded before and still open."""
    domain = settings.addresses.service_desk.rpartition("@")[2].lower()
    zone = ZoneInfo(settings.instance.timezone)
    rows = session.execute(
        select(Forward, Ticket)
        .outerjoin(Ticket, Ticket.id == Forward.ticket_id)
        .where(Forward.target == "netcompany", Forward.at < week.end)
        .order_by(Forward.at)
    ).all()
    lines: dict[int, ForwardLine] = {}
    for forward, ticket in rows:
        if ticket is None:
            continue  # deleted by retention, so closed long ago
        finished = done_at(ticket)
        is_open = finished is None or finished >= week.end
        if finished is not None and finished < week.start:
            continue  # dealt with before this week
        if not is_open and finished is not None:
            status = f"løst {finished.astimezone(zone):%d.%m.%Y}"
        else:
            status = danish(STATUS, ticket.status if ticket.status not in DONE else "forwarded")
        end = finished if not is_open and finished is not None else week.end
        replied = _service_desk_replied(session, ticket.id, forward.at, week.end, domain)
        lines[ticket.id] = ForwardLine(  # a second forward of one ticket replaces the first
            ticket_id=ticket.id,
            subject=ticket.subject,
            nc_case=ticket.nc_case,
            forwarded_at=forward.at,
            age_days=int((end - forward.at) // timedelta(days=1)),
            open=is_open,
            waiting=is_open and not replied,
            status=status,
        )
    return list(lines.values())


def _kombit_lines(session: Session, week: Week) -> list[KombitLine]:
    """Change requests the system responsible sent to KOMBIT in the week."""
    rows = session.execute(
        select(Forward, Person.name)
        .join(Person, Person.id == Forward.by_id)
        .where(Forward.target == "kombit", Forward.at >= week.start, Forward.at < week.end)
    ).all()
    return [
        KombitLine(ticket_id=f.ticket_id, subject=f.subject, sent_at=f.at, by=name)
        for f, name in rows
    ]


def _messages_of_kind(session: Session, week: Week, kind: MessageKind) -> list[str]:
    """The noise kinds (or "" ) of the messages of one kind received in the week."""
    rows = session.scalars(
        select(InboundMessage.noise_kind).where(
            InboundMessage.kind == kind.value,
            InboundMessage.received_at >= week.start,
            InboundMessage.received_at < week.end,
        )
    )
    return [kind or "" for kind in rows]


def _corrections(session: Session, week: Week) -> list[CorrectionFacts]:
    """Reclassifications superusers made in the week."""
    rows = session.scalars(
        select(Correction).where(Correction.at >= week.start, Correction.at < week.end)
    )
    return [
        CorrectionFacts(
            ticket_id=c.ticket_id,
            category_changed=c.category != c.old_category,
            topic_changed=c.topic != c.old_topic,
            severity_changed=c.severity != c.old_severity,
        )
        for c in rows
    ]


def build_weekly_report(session: Session, settings: Settings, week: Week) -> WeeklyReport:
    """Read the week from the database and compute its report."""
    return compute_report(
        week,
        tickets=_ticket_facts(session, week),
        forwards=_forward_lines(session, settings, week),
        kombit=_kombit_lines(session, week),
        noise_kinds=_messages_of_kind(session, week, MessageKind.NOISE),
        quarantined=len(_messages_of_kind(session, week, MessageKind.QUARANTINED)),
        corrections=_corrections(session, week),
    )
