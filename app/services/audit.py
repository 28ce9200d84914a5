"""The audit log: who did what, when. Append-only; read by the system responsible and owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditEvent, Person, utcnow


def record(
    session: Session,
    action: str,
    *,
    actor: Person | None = None,
    actor_label: str | None = None,
    ticket_id: int | None = None,
    detail: dict[str, Any] | None = None,
    remote_addr: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add one event to the log in the caller's transaction.

    `actor_label` names an actor who is not a person of ours (a failed log-in's address,
    "system", "worker"); a person's address is used when `actor` is given.
    """
    event = AuditEvent(
        at=at or utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor=actor.email if actor is not None else (actor_label or "system"),
        action=action,
        ticket_id=ticket_id,
        detail=detail or {},
        remote_addr=remote_addr,
    )
    session.add(event)
    return event
