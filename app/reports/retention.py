"""Retention: tickets closed longer than the configured period are deleted with their mail.

What goes with a ticket: its inbound messages (raw mail) and their attachments, its notes, its
outbound mail, and every blob (raw bytes) no other row still refers to. Kept: the audit log,
which records *that* a ticket was deleted and how much went with it, never what the mail said;
and the forward and correction records, whose ticket reference becomes empty (their foreign
keys say SET NULL: a forward is the record of a disclosure, a correction is training data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Column, delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.models import (
    AttachmentRecord,
    Base,
    Blob,
    Correction,
    Forward,
    InboundMessage,
    Note,
    OutboundMessage,
    Ticket,
)
from app.services import audit
from app.settings import Settings


@dataclass(frozen=True)
class Expired:
    """One ticket retention deletes, and how much goes with it."""

    ticket_id: int
    closed_at: datetime
    messages: int
    attachments: int
    notes: int
    outbound: int


@dataclass(frozen=True)
class RetentionResult:
    """What one retention run deleted (or, dry, would delete)."""

    cutoff: datetime
    tickets: tuple[Expired, ...]
    blobs: int  # blobs no longer referenced, deleted (or that would be)
    dry_run: bool


def cutoff(settings: Settings, now: datetime) -> datetime:
    """Tickets closed before this instant are due for deletion."""
    return now - relativedelta(months=settings.retention.closed_months)


def _count(session: Session, column: InstrumentedAttribute[Any], ids: list[int]) -> int:
    """How many rows have `column` among `ids`."""
    return int(session.scalar(select(func.count()).where(column.in_(ids))) or 0)


def find_expired(session: Session, settings: Settings, now: datetime) -> list[Expired]:
    """The closed tickets older than the retention period, oldest first."""
    query = (
        select(Ticket.id, Ticket.closed_at)
        .where(Ticket.closed_at.is_not(None), Ticket.closed_at < cutoff(settings, now))
        .order_by(Ticket.closed_at, Ticket.id)
    )
    expired = []
    for ticket_id, closed_at in session.execute(query).all():
        assert closed_at is not None  # the query asks for closed tickets only
        message_ids = list(session.scalars(
            select(InboundMessage.id).where(InboundMessage.ticket_id == ticket_id)
        ))
        expired.append(Expired(
            ticket_id=ticket_id,
            closed_at=closed_at,
            messages=len(message_ids),
            attachments=_count(session, AttachmentRecord.message_id, message_ids),
            notes=_count(session, Note.ticket_id, [ticket_id]),
            outbound=_count(session, OutboundMessage.ticket_id, [ticket_id]),
        ))
    return expired


def _blob_columns() -> list[Column[Any]]:
    """Every column that refers to a blob, whichever table it is in (others may add some)."""
    return [
        column
        for table in Base.metadata.sorted_tables
        for column in table.columns
        for key in column.foreign_keys
        if key.column.table.name == Blob.__tablename__
    ]


def _blobs_of(session: Session, message_ids: list[int]) -> set[str]:
    """The raw mail and attachment blobs of these messages."""
    raw = session.scalars(select(InboundMessage.raw_sha256).where(InboundMessage.id.in_(message_ids)))
    parts = session.scalars(
        select(AttachmentRecord.sha256).where(AttachmentRecord.message_id.in_(message_ids))
    )
    return set(raw) | set(parts)


def _unreferenced(session: Session, candidates: set[str]) -> set[str]:
    """Those of `candidates` no row refers to any more."""
    remaining = set(candidates)
    for column in _blob_columns():
        if not remaining:
            break
        remaining -= set(session.scalars(select(column).where(column.in_(remaining))))
    return remaining


def _delete_ticket(session: Session, ticket_id: int) -> set[str]:
    """Delete one ticket and what belongs to it; the blobs it used (maybe still shared)."""
    message_ids = list(session.scalars(
        select(InboundMessage.id).where(InboundMessage.ticket_id == ticket_id)
    ))
    blobs = _blobs_of(session, message_ids)
    outbound_ids = select(OutboundMessage.id).where(OutboundMessage.ticket_id == ticket_id)
    # The forward record stays, but must not point at outbound mail that is about to go.
    session.execute(update(Forward).where(Forward.outbound_id.in_(outbound_ids))
                    .values(outbound_id=None))
    session.execute(update(Forward).where(Forward.ticket_id == ticket_id).values(ticket_id=None))
    session.execute(update(Correction).where(Correction.ticket_id == ticket_id)
                    .values(ticket_id=None))
    session.execute(delete(AttachmentRecord).where(AttachmentRecord.message_id.in_(message_ids)))
    session.execute(delete(InboundMessage).where(InboundMessage.id.in_(message_ids)))
    session.execute(delete(OutboundMessage).where(OutboundMessage.ticket_id == ticket_id))
    session.execute(delete(Note).where(Note.ticket_id == ticket_id))
    session.execute(delete(Ticket).where(Ticket.id == ticket_id))
    return blobs


def run_retention(
    session: Session, settings: Settings, now: datetime, *, dry_run: bool = False
) -> RetentionResult:
    """Delete (or, dry, only list) what retention removes, in the caller's transaction."""
    expired = find_expired(session, settings, now)
    candidates: set[str] = set()
    if dry_run:
        for item in expired:
            message_ids = list(session.scalars(
                select(InboundMessage.id).where(InboundMessage.ticket_id == item.ticket_id)
            ))
            candidates |= _blobs_of(session, message_ids)
        blobs = _unreferenced_after(session, candidates, [e.ticket_id for e in expired])
        return RetentionResult(cutoff(settings, now), tuple(expired), len(blobs), True)
    for item in expired:
        candidates |= _delete_ticket(session, item.ticket_id)
        audit.record(session, "retention.ticket_deleted", actor_label="retention",
                     ticket_id=item.ticket_id, at=now, detail=_detail(item))
    session.flush()
    orphans = _unreferenced(session, candidates)
    if orphans:
        session.execute(delete(Blob).where(Blob.sha256.in_(orphans)))
    if expired:
        audit.record(session, "retention.run", actor_label="retention", at=now,
                     detail={"tickets": len(expired), "blobs": len(orphans),
                             "cutoff": cutoff(settings, now).isoformat()})
    return RetentionResult(cutoff(settings, now), tuple(expired), len(orphans), False)


def _detail(item: Expired) -> dict[str, object]:
    """What the audit keeps of a deleted ticket: counts and dates, never content."""
    return {
        "closed_at": item.closed_at.isoformat(),
        "messages": item.messages,
        "attachments": item.attachments,
        "notes": item.notes,
        "outbound": item.outbound,
    }


def _unreferenced_after(session: Session, candidates: set[str], ticket_ids: list[int]) -> set[str]:
    """Blobs that no row would refer to once these tickets were gone (for a dry run)."""
    with session.begin_nested() as savepoint:
        for ticket_id in ticket_ids:
            _delete_ticket(session, ticket_id)
        session.flush()
        orphans = _unreferenced(session, candidates)
        savepoint.rollback()
    return orphans
