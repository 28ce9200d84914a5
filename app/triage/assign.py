"""Routing against the database: the people as they are now, and how many open tickets each has."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import Classification, RouteDecision, TicketStatus
from app.models import Person, Ticket
from app.settings import Settings
from app.triage.routing import Candidate, route

CLOSED_STATUSES = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


def open_ticket_counts(session: Session) -> dict[int, int]:
    """Open tickets (not resolved or closed) per assignee id."""
    rows = session.execute(
        select(Ticket.assignee_id, func.count(Ticket.id))
        .where(Ticket.assignee_id.is_not(None), Ticket.status.not_in(CLOSED_STATUSES))
        .group_by(Ticket.assignee_id)
    )
    return {int(assignee): int(count) for assignee, count in rows if assignee is not None}


def candidates(session: Session) -> list[Candidate]:
    """Every active person, with their open-ticket count, as routing sees them."""
    counts = open_ticket_counts(session)
    people = session.scalars(select(Person).where(Person.active.is_(True)).order_by(Person.name))
    return [
        Candidate(
            name=p.name, email=p.email, role=p.role, areas=tuple(p.areas or ()),
            may_forward=bool(p.may_forward), away_until=p.away_until,
            open_tickets=counts.get(p.id, 0), active=True,
        )
        for p in people
    ]


def route_ticket(
    session: Session, settings: Settings, classification: Classification, today: date
) -> RouteDecision:
    """Route one classified ticket among the people in the database (seeded from `settings`)."""
    del settings  # routing needs only the people, who are synchronised from the settings
    return route(classification, candidates(session), today)
