"""Who may do what in the web view: the access matrix, checked in the services.

docs/WEB.md shows the same matrix as a table. Every refusal is recorded in the audit log
before PermissionDeniedError is raised, so a forged request leaves a trace.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import Role
from app.errors import PermissionDeniedError
from app.models import AuditEvent, Person
from app.services import audit
from app.services.tickets import Page


class Right(StrEnum):
    """The things a logged-in person may be allowed to do."""

    READ = "read"  # the queue, tickets, attachments, noise and quarantine
    WORK = "work"  # assign, reclassify, note, reply, status, reopen, restore
    FORWARD_NETCOMPANY = "forward_netcompany"
    FORWARD_KOMBIT = "forward_kombit"
    READ_AUDIT = "read_audit"


# The system owner looks in and reads; everyone else of the organisation works tickets,
# whoever they are assigned to (colleagues cover for each other; the audit log says who did it).
_WORKERS = {Role.SUPERUSER, Role.ADMINISTRATOR, Role.SYSTEM_RESPONSIBLE, Role.PROFESSIONAL_LEAD}
_ROLE_RIGHTS: dict[Right, set[Role]] = {
    Right.READ: set(Role),
    Right.WORK: _WORKERS,
    Right.FORWARD_KOMBIT: {Role.SYSTEM_RESPONSIBLE},
    Right.READ_AUDIT: {Role.SYSTEM_RESPONSIBLE, Role.SYSTEM_OWNER},
}

# What the audit log calls a refusal of each right.
REFUSAL_ACTION: dict[Right, str] = {
    Right.READ: "access_refused",
    Right.WORK: "action_refused",
    Right.FORWARD_NETCOMPANY: "forward_refused",
    Right.FORWARD_KOMBIT: "forward_refused",
    Right.READ_AUDIT: "access_refused",
}

_MESSAGES: dict[Right, str] = {
    Right.READ: "Du har ikke adgang.",
    Right.WORK: "Din rolle kan kun læse sagerne, ikke ændre dem.",
    Right.FORWARD_NETCOMPANY: "Kun superbrugere med videresendelsesret må sende fejl til Netcompany.",
    Right.FORWARD_KOMBIT: "Kun systemansvarlig må sende ændringsønsker til KOMBIT.",
    Right.READ_AUDIT: "Kun systemansvarlig og systemejer kan læse revisionsloggen.",
}


def may(person: Person, right: Right) -> bool:
    """True when `person` has `right` (forwarding to Netcompany is a personal right)."""
    if not person.active:
        return False
    if right is Right.FORWARD_NETCOMPANY:
        return bool(person.may_forward)
    try:
        role = Role(person.role)
    except ValueError:
        return False
    return role in _ROLE_RIGHTS[right]


def require(
    session: Session,
    person: Person,
    right: Right,
    *,
    ticket_id: int | None = None,
    remote_addr: str | None = None,
    what: str = "",
) -> None:
    """Raise PermissionDeniedError (after recording the refusal) unless `person` has `right`."""
    if may(person, right):
        return
    audit.record(
        session,
        REFUSAL_ACTION[right],
        actor=person,
        ticket_id=ticket_id,
        detail={"right": right.value, "what": what},
        remote_addr=remote_addr,
    )
    raise PermissionDeniedError(_MESSAGES[right])


def rights_of(person: Person) -> frozenset[Right]:
    """Every right `person` has (templates show only the actions allowed)."""
    return frozenset(right for right in Right if may(person, right))


def audit_page(session: Session, person: Person, *, action: str = "", actor: str = "",
               page: int = 1, remote_addr: str | None = None, size: int = 100) -> Page:
    """One page of the audit log, newest first (system responsible and owner only)."""
    require(session, person, Right.READ_AUDIT, remote_addr=remote_addr, what="audit log")
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(AuditEvent.actor == actor.strip().lower())
    page = max(1, page)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    rows = list(session.scalars(query.limit(size + 1).offset((page - 1) * size)))
    return Page(rows=rows[:size], page=page, has_next=len(rows) > size)
