"""The ingestion pipeline: raw bytes in, exactly one stored message out, in one transaction.

The steps are a declared, ordered tuple; each takes the frozen `Draft` and returns a new one,
and a step may end the run early (a duplicate). Then `_persist` stores what was decided:
the raw bytes, the message, its attachments, the ticket or follow-up, the outbox rows and an
audit event, all committed together. Any exception on the way stores the raw bytes in quarantine
in a second transaction, and the caller goes on with the next message. The frozen values
(`Draft`, `Origin`, `IngestOutcome`) are defined in `app.ingest.draft`.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import session_scope
from app.domain import MessageKind, ParsedMessage
from app.ingest.draft import Draft, IngestOutcome, Origin
from app.ingest.followups import attach_followup, find_followup
from app.ingest.store import (
    clean,
    fallback_message_id,
    find_stored,
    open_ticket_for,
    raw_sha256,
    storable_message_id,
    store_inbound,
    store_quarantine,
)
from app.models import Blob, InboundMessage, Ticket
from app.runtime import Runtime
from app.services import audit

log = logging.getLogger(__name__)


Step = Callable[[Session, Runtime, Draft], Draft]


def seen_uid(session: Session, runtime: Runtime, draft: Draft) -> Draft:
    """Stop early when this (mailbox, UIDVALIDITY, UID) is stored already: no parse needed."""
    o = draft.origin
    stored = find_stored(session, mailbox=o.mailbox, uidvalidity=o.uidvalidity, uid=o.uid)
    return replace(draft, stored=stored) if stored is not None else draft


def parse(session: Session, runtime: Runtime, draft: Draft) -> Draft:
    """Parse the raw bytes; nothing of the original is lost."""
    from app.ingest.parsing import parse_message

    return replace(draft, parsed=parse_message(draft.raw))


def _lines(raw: bytes) -> bytes:
    """Raw bytes with one kind of line ending."""
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _same_mail(session: Session, stored: InboundMessage, parsed: ParsedMessage,
               raw: bytes) -> bool:
    """True when a stored message is this mail again: the same bytes (line endings aside),
    or a copy by another route (the same sender, subject and non-empty text)."""
    if stored.raw_sha256 == raw_sha256(raw):
        return True
    text = " ".join(clean(parsed.text).split())
    if (text and stored.kind != MessageKind.QUARANTINED.value
            and " ".join(stored.text.split()) == text
            and stored.subject == clean(parsed.subject) and stored.sender == parsed.from_addr):
        return True
    blob = session.get(Blob, stored.raw_sha256)
    return blob is not None and _lines(blob.data) == _lines(raw)


def seen_message_id(session: Session, runtime: Runtime, draft: Draft) -> Draft:
    """Stop when this mail is stored already under its Message-ID.

    A different mail that reuses a stored Message-ID (broken mailers do) is not dropped: it
    goes on under a Message-ID derived from its bytes, so it too is stored exactly once.
    """
    parsed = draft.parsed
    assert parsed is not None
    stored = find_stored(session, message_id=storable_message_id(parsed.message_id))
    if stored is None:
        return draft
    if _same_mail(session, stored, parsed, draft.raw):
        return replace(draft, stored=stored)
    variant = f"{parsed.message_id}#{raw_sha256(draft.raw)[:16]}"
    again = find_stored(session, message_id=storable_message_id(variant))
    if again is not None:
        return replace(draft, stored=again)
    note = f"Message-ID <{parsed.message_id}> was already used by another mail"
    return replace(draft, parsed=replace(parsed, message_id=variant,
                                         defects=(*parsed.defects, note)))


def find_cpr(session: Session, runtime: Runtime, draft: Draft) -> Draft:
    """Mark mail with a CPR number in subject or text."""
    from app.triage.cpr import contains_cpr

    assert draft.parsed is not None
    found = contains_cpr(draft.parsed.subject) or contains_cpr(draft.parsed.text)
    return replace(draft, has_cpr=found)


def detect(session: Session, runtime: Runtime, draft: Draft) -> Draft:
    """Recognise automatic mail (auto-replies, bounces, bulk, our own mail)."""
    from app.ingest.noise import detect_noise

    assert draft.parsed is not None
    settings = runtime.settings
    own = tuple(a.lower() for a in (settings.smtp.sender, settings.mailbox.username) if a)
    return replace(draft, noise=detect_noise(draft.parsed, own_addresses=own))


def match_followup(session: Session, runtime: Runtime, draft: Draft) -> Draft:
    """Find the ticket a person's reply continues (noise never changes a ticket)."""
    assert draft.parsed is not None
    if draft.noise is not None:
        return draft
    return replace(draft, followup=find_followup(session, runtime.settings, draft.parsed))


STEPS: tuple[Step, ...] = (seen_uid, parse, seen_message_id, find_cpr, detect, match_followup)


def _run_steps(session: Session, runtime: Runtime, draft: Draft) -> Draft:
    """Run the steps in order; a duplicate ends the run."""
    for step in STEPS:
        draft = step(session, runtime, draft)
        if draft.stored is not None:
            break
    return draft


def _persist(session: Session, runtime: Runtime, draft: Draft, received_at: datetime | None,
             now: datetime) -> IngestOutcome:
    """Store the message and what it becomes; the caller commits."""
    from app.mail.notifications import queue_acknowledgement

    parsed = draft.parsed
    assert parsed is not None
    arrived = received_at or (parsed.date if draft.origin.source == "import" else None) or now
    kind = (MessageKind.NOISE if draft.noise else
            MessageKind.FOLLOWUP if draft.followup else MessageKind.TICKET)
    inbound = store_inbound(session, parsed, draft.raw, kind=kind, has_cpr=draft.has_cpr,
                            received_at=arrived, stored_at=now, origin=draft.origin.columns())
    ticket: Ticket | None = None
    if draft.noise is not None:
        inbound.noise_kind = draft.noise.kind.value
        inbound.noise_reason = draft.noise.reason
        audit.record(session, "message.noise", detail={"message_id": inbound.message_id,
                     "noise_kind": inbound.noise_kind, "reason": draft.noise.reason}, at=now)
    elif draft.followup is not None:
        ticket = session.get(Ticket, draft.followup.ticket_id)
        assert ticket is not None
        attach_followup(session, runtime.settings, ticket, inbound, draft.followup, now)
    else:
        ticket = open_ticket_for(session, runtime, inbound, now)
        queue_acknowledgement(session, runtime.settings, ticket, inbound, now)
    session.flush()
    return IngestOutcome(kind=kind, message_id=inbound.message_id,
                         ticket_id=ticket.id if ticket else None, duplicate=False, error=None)


def _duplicate(stored: InboundMessage) -> IngestOutcome:
    """The outcome for mail that was stored before: nothing changes."""
    return IngestOutcome(kind=MessageKind(stored.kind), message_id=stored.message_id,
                         ticket_id=stored.ticket_id, duplicate=True, error=None)


def _describe(error: BaseException) -> str:
    """The error as a person reads it in the quarantine list: type, message, where."""
    frames = traceback.extract_tb(error.__traceback__)[-3:]
    where = "; ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in frames)
    return f"{type(error).__name__}: {error}" + (f" (at {where})" if where else "")


def ingest_raw(runtime: Runtime, raw: bytes, *, source: str, received_at: datetime | None = None,
               mailbox: str | None = None, uidvalidity: int | None = None,
               uid: int | None = None) -> IngestOutcome:
    """Store one raw mail exactly once as a ticket, follow-up, noise or quarantine.

    Idempotent on Message-ID and on (mailbox, UIDVALIDITY, UID). Never raises for a bad
    message: it is quarantined with the error. Only a failing database escapes.
    """
    origin = Origin(source=source, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid)
    attempts = 2  # a unique-constraint clash with another process is worth one more try
    for attempt in range(1, attempts + 1):
        message_id: list[str] = []
        try:
            return _ingest_once(runtime, raw, origin, received_at, message_id)
        except Exception as error:  # noqa: BLE001 - any failure of one mail means quarantine
            if isinstance(error, IntegrityError):
                raced = _stored_meanwhile(runtime, origin, message_id[0] if message_id else None)
                if raced is not None:
                    return raced
                if attempt < attempts:
                    continue
            log.warning("quarantining a mail from %s: %s", source, error)
            return quarantine_raw(runtime, raw, _describe(error), source=source,
                                  received_at=received_at, mailbox=mailbox,
                                  uidvalidity=uidvalidity, uid=uid,
                                  message_id=message_id[0] if message_id else None)
    raise AssertionError("unreachable")  # pragma: no cover


def _ingest_once(runtime: Runtime, raw: bytes, origin: Origin, received_at: datetime | None,
                 message_id: list[str]) -> IngestOutcome:
    """One attempt in one transaction; `message_id` receives the parsed Message-ID (for
    quarantine and race checks when the attempt fails later)."""
    now = runtime.now()
    with session_scope(runtime.sessions) as session:
        draft = _run_steps(session, runtime, Draft(raw=raw, origin=origin))
        if draft.parsed is not None:
            message_id.append(draft.parsed.message_id)
        if draft.stored is not None:
            return _duplicate(draft.stored)
        return _persist(session, runtime, draft, received_at, now)


def _stored_meanwhile(runtime: Runtime, origin: Origin, message_id: str | None) -> IngestOutcome | None:
    """After a unique-constraint clash: the copy another process stored, if that was the cause."""
    with session_scope(runtime.sessions) as session:
        stored = find_stored(
            session, message_id=storable_message_id(message_id) if message_id else None,
            mailbox=origin.mailbox, uidvalidity=origin.uidvalidity, uid=origin.uid)
        return _duplicate(stored) if stored is not None else None


def quarantine_raw(runtime: Runtime, raw: bytes, error: str, *, source: str,
                   received_at: datetime | None = None, mailbox: str | None = None,
                   uidvalidity: int | None = None, uid: int | None = None,
                   message_id: str | None = None) -> IngestOutcome:
    """Keep raw bytes in quarantine with the error (idempotent like `ingest_raw`)."""
    origin = Origin(source=source, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid)
    now = runtime.now()
    with session_scope(runtime.sessions) as session:
        stored, mid = _quarantine_key(session, raw, message_id or fallback_message_id(raw), origin)
        if stored is not None:
            return _duplicate(stored)
        inbound = store_quarantine(session, raw, error, message_id=mid,
                                   received_at=received_at or now, stored_at=now,
                                   origin=origin.columns())
        audit.record(session, "message.quarantined",
                     detail={"message_id": mid, "error": error[:500]}, at=now)
        session.flush()
        return IngestOutcome(kind=MessageKind.QUARANTINED, message_id=inbound.message_id,
                             ticket_id=None, duplicate=False, error=error)


def _quarantine_key(session: Session, raw: bytes, message_id: str,
                    origin: Origin) -> tuple[InboundMessage | None, str]:
    """The stored copy of this mail if any, else the Message-ID to keep it under (derived from
    its bytes when another mail holds the Message-ID already)."""
    stored = find_stored(session, mailbox=origin.mailbox, uidvalidity=origin.uidvalidity,
                         uid=origin.uid)
    if stored is not None:
        return stored, stored.message_id
    mid = storable_message_id(message_id)
    for candidate in (mid, storable_message_id(f"{message_id}#{raw_sha256(raw)[:16]}")):
        stored = find_stored(session, message_id=candidate)
        if stored is None:
            return None, candidate
        if stored.raw_sha256 == raw_sha256(raw):
            return stored, candidate
    return None, storable_message_id(f"{message_id}#{raw_sha256(raw)}")
