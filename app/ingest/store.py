"""Persisting what the pipeline decided: raw bytes, the inbound message, attachments, tickets.

Everything here adds to the caller's session and never commits: the pipeline commits one
message in one transaction. Text is cleaned for the database on the way in (PostgreSQL refuses
NUL characters; columns have lengths), so a strange mail cannot fail on storing.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email import policy
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from app.domain import (
    Classification,
    MessageKind,
    ParsedMessage,
    RouteDecision,
    Severity,
    TicketStatus,
)
from app.models import AttachmentRecord, Blob, InboundMessage, Ticket
from app.services import audit

if TYPE_CHECKING:
    from app.runtime import Runtime
    from app.settings import Settings

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*<?([^\s>]+)>?", re.IGNORECASE | re.MULTILINE)


def clean(value: str | None, limit: int | None = None) -> str:
    """Text a database column accepts: no NUL characters, cut to the column's length."""
    text = (value or "").replace("\x00", "")
    return text[:limit] if limit is not None else text


def raw_sha256(raw: bytes) -> str:
    """The address of raw bytes in the blob table."""
    return hashlib.sha256(raw).hexdigest()


def fallback_message_id(raw: bytes) -> str:
    """A Message-ID for mail that could not be parsed: its header if findable, else a hash."""
    found = _MESSAGE_ID.search(raw[:65536])
    if found:
        return clean(found.group(1).decode("ascii", "replace"), 998)
    return f"{raw_sha256(raw)}@sha256.invalid"  # as parse_message names such mail


def storable_message_id(message_id: str) -> str:
    """Fit an over-long Message-ID into its column, keeping it unique by a hash of the whole."""
    value = clean(message_id.strip("<> "))
    if len(value) <= 998:
        return value
    return value[:900] + "#" + hashlib.sha256(value.encode()).hexdigest()


_BLOB_EXISTS = select(Blob.sha256).where(Blob.sha256 == bindparam("sha"))


def store_blob(session: Session, data: bytes) -> str:
    """Keep bytes once by SHA-256; return the address."""
    sha = raw_sha256(data)
    # Ask only whether the address is there: loading a stored blob would read all its bytes.
    if session.scalar(_BLOB_EXISTS, {"sha": sha}) is None:
        session.add(Blob(sha256=sha, size=len(data), data=data))
    return sha


# The duplicate checks run for every mail: their statements are built once, with parameters
# (constructing one costs more than SQLite takes to answer it).
_BY_MESSAGE_ID = InboundMessage.message_id == bindparam("message_id")
_BY_UID = (
    (InboundMessage.mailbox == bindparam("mailbox"))
    & (InboundMessage.uidvalidity == bindparam("uidvalidity"))
    & (InboundMessage.uid == bindparam("uid"))
)
_FIND = {
    (True, False): select(InboundMessage).where(_BY_MESSAGE_ID).limit(1),
    (False, True): select(InboundMessage).where(_BY_UID).limit(1),
    (True, True): select(InboundMessage).where(or_(_BY_MESSAGE_ID, _BY_UID)).limit(1),
}


def find_stored(
    session: Session,
    *,
    message_id: str | None = None,
    mailbox: str | None = None,
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> InboundMessage | None:
    """The stored message with this Message-ID or this (mailbox, UIDVALIDITY, UID), if any."""
    by_uid = mailbox is not None and uidvalidity is not None and uid is not None
    if not message_id and not by_uid:
        return None
    params = {"message_id": message_id, "mailbox": mailbox, "uidvalidity": uidvalidity, "uid": uid}
    statement = _FIND[(bool(message_id), by_uid)]
    return session.scalars(statement, params).first()


def _parsed_columns(parsed: ParsedMessage) -> dict[str, object]:
    """The InboundMessage columns a parsed mail fills, cleaned for the database."""
    return {
        "sender": clean(parsed.from_addr, 320),
        "sender_name": clean(parsed.from_name, 200),
        "to_addrs": [clean(a, 320) for a in parsed.to_addrs],
        "cc_addrs": [clean(a, 320) for a in parsed.cc_addrs],
        "subject": clean(parsed.subject),
        "in_reply_to": [clean(m) for m in parsed.in_reply_to],
        "references": [clean(m) for m in parsed.references],
        "text": clean(parsed.text),
        "new_text": clean(parsed.new_text),
        "html": clean(parsed.html) if parsed.html is not None else None,
        "defects": [clean(d) for d in parsed.defects],
    }


def refill_from_raw(session: Session, inbound: InboundMessage) -> bool:
    """Give a quarantined message what its raw bytes yield when parsed now; False if they
    still cannot be parsed (the message is then left as it is)."""
    from app.ingest.parsing import parse_message
    from app.triage.cpr import contains_cpr

    blob = session.get(Blob, inbound.raw_sha256)
    try:
        parsed = parse_message(blob.data if blob is not None else b"")
    except Exception:  # noqa: BLE001 - still unparseable: a person reads the raw mail instead
        return False
    for name, value in _parsed_columns(parsed).items():
        setattr(inbound, name, value)
    inbound.has_cpr = contains_cpr(parsed.subject) or contains_cpr(parsed.text)
    if not inbound.attachments:
        _store_attachments(session, inbound, parsed)
    return True


def store_inbound(
    session: Session,
    parsed: ParsedMessage,
    raw: bytes,
    *,
    kind: MessageKind,
    has_cpr: bool,
    received_at: datetime,
    stored_at: datetime,
    origin: dict[str, object],
) -> InboundMessage:
    """Add the raw bytes, the message and its attachments to the session.

    `origin` holds source, mailbox, uidvalidity and uid.
    """
    inbound = InboundMessage(
        message_id=storable_message_id(parsed.message_id),
        raw_sha256=store_blob(session, raw),
        raw_size=len(raw),
        received_at=received_at,
        stored_at=stored_at,
        kind=kind.value,
        has_cpr=has_cpr,
        **_parsed_columns(parsed),
        **origin,
    )
    session.add(inbound)
    _store_attachments(session, inbound, parsed)
    return inbound


def _store_attachments(session: Session, inbound: InboundMessage, parsed: ParsedMessage) -> None:
    """Add the attachments and inline images, their bytes kept once by SHA-256."""
    for part in parsed.attachments:
        inbound.attachments.append(
            AttachmentRecord(
                filename=clean(part.filename, 500),
                content_type=clean(part.content_type, 200) or "application/octet-stream",
                size=len(part.data),
                sha256=store_blob(session, part.data),
                inline=part.inline,
                content_id=clean(part.content_id, 500) if part.content_id else None,
            )
        )


def _header_summary(raw: bytes) -> tuple[str, str]:
    """Subject and sender address of mail that could not be parsed, as far as they can be read."""
    try:
        head = BytesHeaderParser(policy=policy.default).parsebytes(raw[:65536])
        subject = str(head.get("subject", "") or "")
        sender = parseaddr(str(head.get("from", "") or ""))[1].lower()
    except Exception:  # noqa: BLE001 - quarantine must keep the mail whatever its header holds
        return "", ""
    return " ".join(subject.split()), sender


def store_quarantine(
    session: Session,
    raw: bytes,
    error: str,
    *,
    message_id: str,
    received_at: datetime,
    stored_at: datetime,
    origin: dict[str, object],
) -> InboundMessage:
    """Keep mail that could not be processed: raw bytes and the error, visible for a person."""
    subject, sender = _header_summary(raw)
    inbound = InboundMessage(
        message_id=storable_message_id(message_id),
        raw_sha256=store_blob(session, raw),
        raw_size=len(raw),
        received_at=received_at,
        stored_at=stored_at,
        kind=MessageKind.QUARANTINED.value,
        subject=clean(subject),
        sender=clean(sender, 320),
        error=clean(error),
        **origin,
    )
    session.add(inbound)
    return inbound


def open_ticket_for(session: Session, runtime: Runtime, inbound: InboundMessage, now: datetime) -> Ticket:
    """Classify and route a stored message and make it the first message of a new ticket.

    Used by the pipeline and by the web view to restore suppressed or quarantined mail. A
    critical fault alerts those the route names at once (through the outbox), unless the mail
    is imported history. The acknowledgement is the caller's to queue.
    """
    from app.mail.notifications import queue_critical_alert
    from app.triage.assign import route_to_person

    settings = runtime.settings
    if inbound.kind == MessageKind.QUARANTINED.value and not inbound.text:
        refill_from_raw(session, inbound)  # quarantined mail was never parsed: try now
    classification = runtime.classifier.classify(inbound.subject, inbound.new_text)
    # Routing reads only people and tickets, which nothing pending here changes: without an
    # autoflush the new message is inserted together with its ticket, not updated after it.
    with session.no_autoflush:
        decision, assignee_id = route_to_person(session, classification, settings.local_date(now))
        ticket = _new_ticket(settings, inbound, classification, decision, assignee_id, now)
        session.add(ticket)
        inbound.kind = MessageKind.TICKET.value
        inbound.ticket = ticket
    session.flush()  # the ticket number, for the alert and the audit log
    audit.record(
        session,
        "ticket.created",
        actor_label="system",
        ticket_id=ticket.id,
        detail={"message_id": inbound.message_id, "assignee": decision.assignee_email,
                "category": ticket.category, "topic": ticket.topic, "severity": ticket.severity},
        at=now,
    )
    # Imported history is not news: only mail arriving now alerts anyone.
    if (ticket.severity == Severity.CRITICAL.value and decision.alert_emails
            and inbound.source != "import"):
        queue_critical_alert(session, settings, ticket, tuple(decision.alert_emails), now)
    return ticket


def _new_ticket(settings: Settings, inbound: InboundMessage, classification: Classification,
                decision: RouteDecision, assignee_id: int | None, now: datetime) -> Ticket:
    """The ticket a classified, routed message opens (not yet added to the session)."""
    return Ticket(
        subject=inbound.subject,
        requester=inbound.sender,
        requester_name=inbound.sender_name,
        category=classification.category.value,
        topic=classification.topic.value,
        severity=classification.severity.value,
        confidence=classification.confidence,
        abstained=classification.abstained,
        reasons=[reason.as_dict() for reason in classification.reasons],
        status=TicketStatus.NEW.value,
        assignee_id=assignee_id,
        route_reason=decision.reason,
        has_cpr=inbound.has_cpr,
        hypercare=settings.hypercare.covers(settings.local_date(inbound.received_at)),
        created_at=inbound.received_at,
        updated_at=now,
    )
