"""Retention: tickets closed longer than the configured period are deleted with their mail.

What goes with a ticket: its inbound messages (raw mail) and their attachments, its notes, its
outbound mail, and every blob (raw bytes) no other row still refers to. Kept: the audit log,
which records *that* a ticket was deleted and how much went with it, never what the mail said;
and the forward and correction records, whose ticket reference becomes empty (their foreign
keys say SET NULL: a forward is the record of a disclosure, a correction is training data).
Those two keep who, when, where to and why, but what the mail said is blanked: a forward's
subject, body and attachment names, a correction's subject and text.

Suppressed noise (never a ticket, never restored) received before the same cutoff is deleted
too, with its files. Quarantined mail is never deleted here: it may be a caseworker's mail
nobody has looked at yet.
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
from app.services import audit, search
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
    noise: int = 0  # suppressed noise mails deleted (or that would be)


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
    _blank_kept_records(session, ticket_id)
    _delete_messages(session, message_ids)
    session.execute(delete(OutboundMessage).where(OutboundMessage.ticket_id == ticket_id))
    session.execute(delete(Note).where(Note.ticket_id == ticket_id))
    session.execute(delete(Ticket).where(Ticket.id == ticket_id))
    return blobs


def _blank_kept_records(session: Session, ticket_id: int) -> None:
    """Keep the forwards' and corrections' who/when/why, blank what the mail said, unlink them."""
    for forward in session.scalars(select(Forward).where(Forward.ticket_id == ticket_id)):
        forward.subject = forward.body_sent = ""
        # The file's fingerprint proves what was sent; its name may name the child.
        forward.attachments_sent = [{"sha256": a.get("sha256", "")} for a in forward.attachments_sent or []]
        forward.ticket_id = None
    session.flush()
    session.execute(update(Correction).where(Correction.ticket_id == ticket_id)
                    .values(ticket_id=None, subject="", text=""))


def expired_noise(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Ids of suppressed noise received before the cutoff that never became a ticket."""
    return list(session.scalars(
        select(InboundMessage.id).where(
            InboundMessage.kind == "noise", InboundMessage.ticket_id.is_(None),
            InboundMessage.received_at < cutoff(settings, now),
        ).order_by(InboundMessage.id)
    ))


def _delete_messages(session: Session, message_ids: list[int]) -> set[str]:
    """Delete stored mails that belong to no ticket; the blobs they used."""
    blobs = _blobs_of(session, message_ids)
    session.execute(delete(AttachmentRecord).where(AttachmentRecord.message_id.in_(message_ids)))
    session.execute(delete(InboundMessage).where(InboundMessage.id.in_(message_ids)))
    return blobs


def run_retention(
    session: Session, settings: Settings, now: datetime, *, dry_run: bool = False
) -> RetentionResult:
    """Delete (or, dry, only list) what retention removes, in the caller's transaction.

    A dry run deletes inside a savepoint and rolls it back, so its figures are the real ones.
    """
    expired = find_expired(session, settings, now)
    noise = expired_noise(session, settings, now)
    if dry_run:
        with session.begin_nested() as savepoint:
            orphans = _delete_expired(session, expired, noise, now)
            savepoint.rollback()
        return RetentionResult(cutoff(settings, now), tuple(expired), orphans, True, len(noise))
    orphans = _delete_expired(session, expired, noise, now)
    if expired or noise:
        search.purge_deleted(session)  # SQLite's full-text index keeps old trigrams otherwise
        audit.record(session, "retention.run", actor_label="retention", at=now,
                     detail={"tickets": len(expired), "noise": len(noise), "blobs": orphans,
                             "cutoff": cutoff(settings, now).isoformat()})
    return RetentionResult(cutoff(settings, now), tuple(expired), orphans, False, len(noise))


def _delete_expired(session: Session, expired: list[Expired], noise: list[int], now: datetime) -> int:
    """Delete the tickets (each audited) and the noise, then the blobs left unused; how many."""
    candidates: set[str] = set()
    for item in expired:
        candidates |= _delete_ticket(session, item.ticket_id)
        audit.record(session, "retention.ticket_deleted", actor_label="retention",
                     ticket_id=item.ticket_id, at=now, detail=_detail(item))
    if noise:
        candidates |= _delete_messages(session, noise)
    session.flush()
    orphans = _unreferenced(session, candidates)
    if orphans:
        session.execute(delete(Blob).where(Blob.sha256.in_(orphans)))
    return len(orphans)


def _detail(item: Expired) -> dict[str, object]:
    """What the audit keeps of a deleted ticket: counts and dates, never content."""
    return {
        "closed_at": item.closed_at.isoformat(),
        "messages": item.messages,
        "attachments": item.attachments,
        "notes": item.notes,
        "outbound": item.outbound,
    }
