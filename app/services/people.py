"""Absence: a person marks themselves away until a date, and their open tickets are handed on.

Routing already skips a person whose `away_until` is today or later; handing on routes each of
the away person's open tickets again, among the colleagues who are there (the same rules as a
new ticket: the superusers of the topic with the fewest open tickets, else the system
responsible). Every change is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import Category, Classification, Severity, Topic
from app.errors import InvalidActionError, NotFoundError, PermissionDeniedError
from app.models import Person, Ticket
from app.services import audit
from app.settings import Settings
from app.triage.assign import CLOSED_STATUSES, route_ticket


@dataclass(frozen=True)
class HandedOn:
    """One ticket given to a colleague (or left in manual triage when nobody fits)."""

    ticket_id: int
    to_email: str | None
    reason: str


def find_person(session: Session, email: str) -> Person:
    """The active person with this address; NotFoundError otherwise."""
    person = session.scalar(
        select(Person).where(Person.email == email.strip().lower(), Person.active.is_(True))
    )
    if person is None:
        raise NotFoundError(f"ingen aktiv person med adressen {email}")
    return person


def _own_absence_only(session: Session, person: Person, actor: Person | None, what: str) -> None:
    """A logged-in person changes only their own absence (the CLI, actor None, anyone's)."""
    if actor is None or actor.id == person.id:
        return
    audit.record(session, "action_refused", actor=actor,
                 detail={"right": "own_absence", "what": what, "person": person.email})
    raise PermissionDeniedError("Du kan kun melde dig selv fraværende eller tilbage.")


def mark_away(
    session: Session, person: Person, until: date, *, today: date, actor: Person | None = None
) -> Person:
    """Mark `person` away until and including `until` (today or later)."""
    _own_absence_only(session, person, actor, "away")
    if until < today:
        raise InvalidActionError(f"datoen {until:%d.%m.%Y} er allerede passeret")
    person.away_until = until
    audit.record(session, "person.away", actor=actor, actor_label=None if actor else "cli",
                 detail={"person": person.email, "until": until.isoformat()})
    return person


def mark_back(session: Session, person: Person, *, actor: Person | None = None) -> Person:
    """Mark `person` present again: routing gives them tickets from now on."""
    _own_absence_only(session, person, actor, "back")
    previous = person.away_until
    person.away_until = None
    audit.record(session, "person.back", actor=actor, actor_label=None if actor else "cli",
                 detail={"person": person.email,
                         "was_away_until": previous.isoformat() if previous else None})
    return person


def _classification(ticket: Ticket) -> Classification:
    """The ticket's current labels as routing reads them (a person's decision: no abstention)."""
    return Classification(
        category=Category(ticket.category),
        topic=Topic(ticket.topic),
        severity=Severity(ticket.severity),
        confidence=1.0,
        abstained=False,
    )


def hand_on(
    session: Session, settings: Settings, person: Person, *, today: date,
    actor: Person | None = None,
) -> list[HandedOn]:
    """Route each of `person`'s open tickets again among colleagues who are not away.

    `person` must be away today (else routing could give the tickets straight back).
    """
    _own_absence_only(session, person, actor, "hand_on")
    if person.away_until is None or person.away_until < today:
        raise InvalidActionError(f"{person.name} er ikke markeret som fraværende")
    tickets = list(session.scalars(
        select(Ticket).where(Ticket.assignee_id == person.id,
                             Ticket.status.not_in(CLOSED_STATUSES)).order_by(Ticket.created_at)
    ))
    handed: list[HandedOn] = []
    for ticket in tickets:
        decision = route_ticket(session, settings, _classification(ticket), today)
        new = find_person(session, decision.assignee_email) if decision.assignee_email else None
        ticket.assignee_id = new.id if new is not None else None
        ticket.route_reason = f"Overdraget fra {person.name} (fraværende): {decision.reason}"
        session.flush()  # the next ticket's routing counts this one at its new assignee
        audit.record(session, "ticket.handed_on", actor=actor,
                     actor_label=None if actor else "cli", ticket_id=ticket.id,
                     detail={"from": person.email, "to": decision.assignee_email})
        handed.append(HandedOn(ticket.id, decision.assignee_email, decision.reason))
    return handed
