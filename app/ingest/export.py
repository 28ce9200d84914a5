"""Exporting what was stored: one JSON object per inbound message (JSON Lines).

The keys are an interface other checks rely on (issue 2 item 10); ticket fields are those of
the ticket the message belongs to, empty for noise and quarantine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.domain import ticket_ref
from app.models import InboundMessage, Ticket
from app.settings import Settings

EXPORT_KEYS = (
    "message_id", "subject", "kind", "ticket", "category", "topic", "severity", "confidence",
    "abstained", "assignee", "status", "noise_reason", "nc_case", "has_cpr",
)


def message_record(message: InboundMessage, settings: Settings) -> dict[str, Any]:
    """One stored message as the export shows it."""
    ticket: Ticket | None = message.ticket
    record: dict[str, Any] = {
        "message_id": message.message_id,
        "subject": message.subject,
        "kind": message.kind,
        "ticket": ticket_ref(settings.instance.ticket_prefix, ticket.id) if ticket else None,
        "category": ticket.category if ticket else None,
        "topic": ticket.topic if ticket else None,
        "severity": ticket.severity if ticket else None,
        "confidence": round(ticket.confidence, 4) if ticket else None,
        "abstained": ticket.abstained if ticket else None,
        "assignee": ticket.assignee.email if ticket and ticket.assignee else None,
        "status": ticket.status if ticket else None,
        "noise_reason": message.noise_reason,
        "nc_case": ticket.nc_case if ticket else None,
        "has_cpr": message.has_cpr,
    }
    # Useful beyond the fixed keys: where and when the mail came from, why it is quarantined.
    record.update(
        sender=message.sender,
        received_at=message.received_at.isoformat(),
        noise_kind=message.noise_kind,
        error=message.error,
        source=message.source,
    )
    return record


def iter_records(session: Session, settings: Settings, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every stored inbound message in the order it was stored, read in batches."""
    last_id = 0
    while True:
        rows = list(session.scalars(
            select(InboundMessage)
            .where(InboundMessage.id > last_id)
            .order_by(InboundMessage.id)
            .limit(batch)
            .options(selectinload(InboundMessage.ticket).selectinload(Ticket.assignee))
        ))
        if not rows:
            return
        for message in rows:
            yield message_record(message, settings)
        last_id = rows[-1].id
        session.expunge_all()  # keep memory flat on a large mailbox


def export_jsonl(session: Session, settings: Settings, out: IO[str]) -> int:
    """Write one JSON object per line; return how many were written."""
    count = 0
    for record in iter_records(session, settings):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count
