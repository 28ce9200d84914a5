"""Sending the outbox: claim due rows one at a time, send them, record what the server said.

`send_pending` claims due rows one at a time, each in its own short transaction (FOR UPDATE
SKIP LOCKED on PostgreSQL, a conditional UPDATE on SQLite), sends them, and marks each sent
right after the server accepted it. A claimed row holds a lease: a sender that dies mid-send
leaves it to be retried when the lease runs out. An error backs off exponentially; after
`smtp.max_attempts` tries the row is `failed`, kept, and shown to superusers. The states of a
row are defined here; `app.mail.outbox` writes the rows and re-exports what callers use.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Row, Table, Update, and_, select, update

from app.errors import DubuTriageError
from app.models import AttachmentRecord, Blob, OutboundMessage
from app.runtime import Runtime
from app.services.audit import record
from app.triage.cpr import mask_cpr

if TYPE_CHECKING:  # the sender imports Flask; only send_pending needs it, at run time
    from app.mail.sender import Outgoing

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
# Kinds that go to addresses outside the municipality (the service desk, KOMBIT).
LEAVES_MUNICIPALITY = frozenset({"forward_nc", "forward_kombit"})
LEASE = timedelta(minutes=10)  # longer than any SMTP timeout: a live sender is never overtaken
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
# Refusals of one mail; any other OSError (every smtplib error is one) concerns the connection
# or the server, and the rest of a batch would fail the same way.
ONE_MAIL_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)


class AttachmentMissingError(DubuTriageError):
    """An attachment an outbox row names is gone (deleted by retention): it cannot be sent."""


@dataclass(frozen=True)
class SendReport:
    """What one run of `send_pending` did."""

    sent: int = 0
    failed: int = 0  # given up on this run (max attempts reached, or refused for good)
    deferred: int = 0  # an error; tried again after a back-off

    def __str__(self) -> str:
        """The one-line summary the CLI prints."""
        return f"sent {self.sent}, failed {self.failed}, deferred {self.deferred}"


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try: 1, 2, 4 … minutes, at most 6 hours."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


_CLAIMED = ("id", "kind", "message_id", "to_addrs", "cc_addrs", "subject", "body_text", "body_html",
            "in_reply_to", "references", "extra_headers", "attachment_ids")


def _claim_next(runtime: Runtime, now: datetime, sent_id: int | None) -> Row[Any] | None:
    """Mark `sent_id` sent, and take the next due row, in one short transaction.

    Marking the last mail in the transaction that claims the next keeps the round trips per
    mail few, and the mark still lands before anything else is sent.
    """
    table = cast(Table, OutboundMessage.__table__)
    due = and_(table.c.status.in_((PENDING, SENDING)), table.c.next_attempt_at <= now)
    pick = select(table.c.id).where(due).order_by(table.c.next_attempt_at, table.c.id).limit(1)
    if runtime.engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    # One statement: on SQLite it takes the write lock at once, so two senders serialise here,
    # and the repeated `due` condition makes the loser's UPDATE match nothing.
    claim = (
        update(table)
        .where(table.c.id == pick.scalar_subquery(), due)
        .values(status=SENDING, next_attempt_at=now + LEASE)
        .returning(*(table.c[name] for name in _CLAIMED))
    )
    with runtime.sessions.begin() as session:
        if sent_id is not None:
            session.execute(_mark_sent(sent_id, runtime.now()))
        return session.execute(claim).first()


def _mark_sent(outbound_id: int, at: datetime) -> Update:
    """The statement that records that the server accepted a mail."""
    table = cast(Table, OutboundMessage.__table__)
    return (
        update(table)
        .where(table.c.id == outbound_id)
        .values(status=SENT, sent_at=at, last_error=None, attempts=table.c.attempts + 1)
    )


def _outgoing(runtime: Runtime, row: Row[Any]) -> Outgoing:
    """What the sender needs of a claimed row, with its attachments' bytes."""
    from app.mail.notifications import is_internal
    from app.mail.sender import Outgoing, OutgoingAttachment

    files = []
    if row.attachment_ids:
        with runtime.sessions() as session:
            for attachment_id in row.attachment_ids:
                found = session.execute(
                    select(AttachmentRecord.filename, AttachmentRecord.content_type, Blob.data)
                    .join(Blob, Blob.sha256 == AttachmentRecord.sha256)
                    .where(AttachmentRecord.id == attachment_id)
                ).first()
                if found is None:
                    raise AttachmentMissingError(f"attachment {attachment_id} no longer exists")
                filename, content_type, data = found
                # A file name is personal data too ("underretning 140612-4387.pdf").
                files.append(OutgoingAttachment(mask_cpr(filename), content_type, data))
    subject, body_text, body_html = row.subject, row.body_text, row.body_html
    recipients = (*row.to_addrs, *row.cc_addrs)
    # Masked when drafted (forwards) or written (replies); again here, the one way out.
    if row.kind in LEAVES_MUNICIPALITY or not all(is_internal(runtime.settings, a) for a in recipients):
        subject, body_text = mask_cpr(subject), mask_cpr(body_text)
        body_html = mask_cpr(body_html) if body_html else body_html
    return Outgoing(
        message_id=row.message_id, to=tuple(row.to_addrs), cc=tuple(row.cc_addrs),
        subject=subject, body_text=body_text, body_html=body_html,
        in_reply_to=row.in_reply_to, references=tuple(row.references),
        extra_headers=tuple((str(k), str(v)) for k, v in row.extra_headers.items()),
        attachments=tuple(files),
    )


def _mark_error(runtime: Runtime, outbound_id: int, error: BaseException, permanent: bool) -> bool:
    """Count a failed try: back off, or give up. True when the row is now `failed`."""
    from app.mail.sender import refused_permanently

    now = runtime.now()
    with runtime.sessions.begin() as session:
        row = session.get_one(OutboundMessage, outbound_id)
        row.attempts += 1
        row.last_error = f"{type(error).__name__}: {error}"[:2000]
        permanent = permanent or refused_permanently(error)
        if permanent or row.attempts >= runtime.settings.smtp.max_attempts:
            row.status = FAILED
            record(session, "mail_failed", actor_label="worker", ticket_id=row.ticket_id, at=now,
                   detail={"outbound_id": row.id, "kind": row.kind, "error": row.last_error})
            log.warning("mail %s (%s) failed for good: %s", row.id, row.kind, row.last_error)
            return True
        row.status = PENDING
        row.next_attempt_at = now + backoff(row.attempts)
        log.warning(
            "mail %s (%s) not sent (try %d), next try at %s: %s",
            row.id, row.kind, row.attempts, row.next_attempt_at.isoformat(), row.last_error,
        )
        return False


def send_pending(runtime: Runtime, limit: int = 100) -> SendReport:
    """Send up to `limit` due outbox rows; stop early when the server cannot be reached."""
    from app.mail.sender import open_sender

    if not runtime.settings.smtp.host:
        return SendReport()  # no server configured (the demo): mail waits in the outbox
    sent = failed = deferred = 0
    now = runtime.now()
    accepted: int | None = None  # sent, to be marked in the next transaction
    with open_sender(runtime.settings) as sender:
        for _ in range(limit):
            row, accepted = _claim_next(runtime, now, accepted), None
            if row is None:
                break
            try:
                sender.send(_outgoing(runtime, row))
            except Exception as error:  # noqa: BLE001 - every SMTP failure is kept, not raised
                permanent = isinstance(error, AttachmentMissingError)
                if _mark_error(runtime, row.id, error, permanent):
                    failed += 1
                else:
                    deferred += 1
                if isinstance(error, OSError) and not isinstance(error, ONE_MAIL_ERRORS):
                    break  # the rest would fail the same way; they wait for the next run
                continue
            accepted, sent = row.id, sent + 1
        if accepted is not None:  # the loop ended at `limit` right after a send
            with runtime.sessions.begin() as session:
                session.execute(_mark_sent(accepted, runtime.now()))
    report = SendReport(sent=sent, failed=failed, deferred=deferred)
    if sent or failed or deferred:
        log.info("outbox: %s", report)
    return report
