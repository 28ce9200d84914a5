"""Factory helpers: tickets, inbound mail and attachments written straight into the database."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AttachmentRecord, Blob, InboundMessage, Person, Ticket

_counter = itertools.count(1)
T0 = datetime(2024, 4, 10, 9, 0, tzinfo=UTC)


def blob(session: Session, data: bytes) -> str:
    """Store bytes once, addressed by SHA-256."""
    sha = hashlib.sha256(data).hexdigest()
    if session.get(Blob, sha) is None:
        session.add(Blob(sha256=sha, size=len(data), data=data))
        session.flush()
    return sha


def person(session: Session, email: str) -> Person:
    """A configured person by address."""
    return session.scalars(select(Person).where(Person.email == email)).one()


def make_message(session: Session, *, ticket: Ticket | None = None, kind: str = "ticket",
                 subject: str = "Hjælp", sender: str = "anne.hansen@korsbaek.dk",
                 sender_name: str = "Anne Hansen", text: str = "Hej\n", html: str | None = None,
                 received_at: datetime | None = None, **fields: Any) -> InboundMessage:
    """A stored inbound mail (raw bytes made up from the fields)."""
    n = next(_counter)
    raw = f"Subject: {subject}\nFrom: {sender}\n\n{text}".encode()
    message = InboundMessage(
        message_id=fields.pop("message_id", f"m{n}.{hashlib.md5(raw).hexdigest()[:8]}@korsbaek.dk"),
        raw_sha256=blob(session, raw), raw_size=len(raw), source="import", kind=kind,
        ticket=ticket, sender=sender, sender_name=sender_name, subject=subject, text=text,
        new_text=text, html=html, received_at=received_at or T0 + timedelta(minutes=n), **fields,
    )
    session.add(message)
    session.flush()
    return message


def make_ticket(session: Session, *, subject: str = "DUBU hænger", text: str = "Det virker ikke.\n",
                category: str = "fault", topic: str = "sagsbehandling", severity: str = "normal",
                status: str = "new", assignee: Person | None = None,
                requester: str = "anne.hansen@korsbaek.dk", html: str | None = None,
                created_at: datetime | None = None, **fields: Any) -> Ticket:
    """A ticket with its first inbound mail."""
    at = created_at or T0 + timedelta(minutes=next(_counter))
    ticket = Ticket(subject=subject, requester=requester, requester_name="Anne Hansen",
                    category=category, topic=topic, severity=severity, status=status,
                    assignee=assignee, created_at=at, updated_at=at,
                    **{"confidence": 0.8, **fields})
    session.add(ticket)
    session.flush()
    make_message(session, ticket=ticket, subject=subject, sender=requester, text=text, html=html,
                 received_at=at)
    return ticket


def attach(session: Session, message: InboundMessage, filename: str, data: bytes,
           content_type: str = "application/pdf") -> AttachmentRecord:
    """An attachment on a stored mail."""
    record = AttachmentRecord(message_id=message.id, filename=filename, content_type=content_type,
                              size=len(data), sha256=blob(session, data))
    session.add(record)
    session.flush()
    return record
