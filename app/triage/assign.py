"""Routing against the database: the people as they are now, and how many open tickets each has."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from app.domain import Classification, RouteDecision, TicketStatus
from app.models import Person, Ticket
from app.settings import Settings
from app.triage.routing import Candidate, route

CLOSED_STATUSES = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


def _open_counts() -> Subquery:
    """Open tickets (not resolved or closed) per assignee, as a subquery."""
    return (
        select(Ticket.assignee_id.label("person_id"), func.count(Ticket.id).label("open"))
        .where(Ticket.assignee_id.is_not(None), Ticket.status.not_in(CLOSED_STATUSES))
        .group_by(Ticket.assignee_id)
        .subquery()
    )


@cache
def _candidates_query() -> Select[Any]:
    """Active people with their open-ticket counts, by name: built once, since building a
    statement costs more than SQLite takes to run it, and it runs for every new ticket."""
    counts = _open_counts()
    return (
        select(Person.id, Person.name, Person.email, Person.role, Person.areas,
               Person.may_forward, Person.away_until, func.coalesce(counts.c.open, 0))
        .outerjoin(counts, counts.c.person_id == Person.id)
        .where(Person.active.is_(True))
        .order_by(Person.name)
    )


def open_ticket_counts(session: Session) -> dict[int, int]:
    """Open tickets (not resolved or closed) per assignee id."""
    counts = _open_counts()
    rows = session.execute(select(counts.c.person_id, counts.c.open))
    return {int(assignee): int(n) for assignee, n in rows if assignee is not None}


def candidates(session: Session) -> list[Candidate]:
    """Every active person, with their open-ticket count, as routing sees them.

    One query of plain columns, read anew for every ticket: the counts must be those of this
    moment (a superuser may have closed or taken tickets since the last mail).
    """
    return [
        Candidate(
            name=name, email=email, role=role, areas=tuple(areas or ()),
            may_forward=bool(may_forward), away_until=away_until, open_tickets=int(n),
            active=True, person_id=person_id,
        )
        for person_id, name, email, role, areas, may_forward, away_until, n
        in session.execute(_candidates_query())
    ]


def route_ticket(
    session: Session, settings: Settings, classification: Classification, today: date
) -> RouteDecision:
    """Route one classified ticket among the people in the database (seeded from `settings`)."""
    del settings  # routing needs only the people, who are synchronised from the settings
    return route(classification, candidates(session), today)


def route_to_person(
    session: Session, classification: Classification, today: date
) -> tuple[RouteDecision, int | None]:
    """Route one classified ticket; also the id of the person it goes to (None: nobody)."""
    people = candidates(session)
    decision = route(classification, people, today)
    chosen = (decision.assignee_email or "").lower()
    ids = {c.email.lower(): c.person_id for c in people}
    return decision, ids.get(chosen) if chosen else None
