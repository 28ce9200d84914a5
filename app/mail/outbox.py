"""The outbox: mail is written as a row in the transaction that causes it, and sent later.

`enqueue` only adds a row to the caller's session, so a mail exists exactly when the change that
caused it was committed. `send_pending` claims due rows one at a time, each in its own short
transaction (FOR UPDATE SKIP LOCKED on PostgreSQL, a conditional UPDATE on SQLite), sends them,
and marks each sent right after the server accepted it. A claimed row holds a lease: a sender
that dies mid-send leaves it to be retried when the lease runs out. An error backs off
exponentially; after `smtp.max_attempts` tries the row is `failed`, kept, and shown to
superusers. An SMTP outage therefore delays mail and never loses it.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Row, Table, Update, and_, select, update
from sqlalchemy.orm import Session

from app.domain import LOOP_HEADER, OUR_MESSAGE_ID_PREFIX
from app.errors import DubuTriageError, InvalidActionError, NotFoundError
from app.models import AttachmentRecord, Blob, OutboundMessage, Person, utcnow
from app.runtime import Runtime
from app.services.audit import record
from app.settings import Settings
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


def new_message_id(settings: Settings, ticket_id: int | None, kind: str) -> str:
    """A fresh Message-ID (no angle brackets) that names its ticket: ours when it comes back."""
    prefix = settings.instance.ticket_prefix
    token = secrets.token_hex(8)
    return f"{OUR_MESSAGE_ID_PREFIX}{prefix}-{ticket_id or 0}.{kind}.{token}@{settings.mail_domain}"


def _addresses(values: Sequence[str]) -> list[str]:
    """Bare, lower-case, de-duplicated addresses; anything that is not one is refused."""
    seen: list[str] = []
    for value in [values] if isinstance(values, str) else values:  # one address given bare
        address = parseaddr(value)[1].strip().lower()
        if "@" not in address or any(c in value for c in "\r\n"):
            raise InvalidActionError(f"not an e-mail address: {value!r}")
        if address not in seen:
            seen.append(address)
    return seen


def _message_ids(values: Sequence[str]) -> list[str]:
    """Message-IDs without angle brackets, de-duplicated in order."""
    out: list[str] = []
    for value in values:
        bare = value.strip().strip("<>").strip()
        if bare and bare not in out:
            out.append(bare)
    return out


# Headers the sender writes from the row itself; a second copy would make the mail ambiguous.
_OWN_HEADERS = {"", "from", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to",
                "references", "sender"}


def _headers(
    settings: Settings, extra: Mapping[str, str] | None, automatic: bool
) -> dict[str, str]:
    """The caller's headers plus our marks: the loop header always, RFC 3834 when automatic."""
    headers: dict[str, str] = {}
    for name, value in (extra or {}).items():
        if any(c in name + value for c in "\r\n") or name.lower() in _OWN_HEADERS:
            raise InvalidActionError(f"header {name!r} cannot be set by the caller")
        headers[name] = value
    headers[LOOP_HEADER] = settings.mail_domain
    if automatic:
        headers["Auto-Submitted"] = "auto-replied"
        # Asks Exchange/Outlook not to answer our automatic mail with an out-of-office.
        headers["X-Auto-Response-Suppress"] = "All"
    return headers


def enqueue(
    session: Session,
    settings: Settings,
    *,
    kind: str,
    to: Sequence[str],
    subject: str,
    body_text: str,
    ticket_id: int | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    cc: Sequence[str] = (),
    extra_headers: Mapping[str, str] | None = None,
    attachment_ids: Sequence[int] = (),
    created_by: Person | None = None,
    automatic: bool = False,
    now: datetime | None = None,
) -> OutboundMessage:
    """Add one mail to the outbox in the caller's transaction; nothing is sent yet."""
    recipients = _addresses(to)
    if not recipients:
        raise InvalidActionError("a mail needs at least one recipient")
    parent = _message_ids([in_reply_to] if in_reply_to else [])
    refs = _message_ids([*references, *parent])  # RFC 5322: the parent ends References
    now = now or utcnow()
    row = OutboundMessage(
        message_id=new_message_id(settings, ticket_id, kind),
        ticket_id=ticket_id,
        kind=kind,
        to_addrs=recipients,
        cc_addrs=[a for a in _addresses(cc) if a not in recipients],
        subject=" ".join(subject.split()),
        body_text=body_text,
        in_reply_to=parent[0] if parent else None,
        references=refs,
        extra_headers=_headers(settings, extra_headers, automatic),
        attachment_ids=[int(i) for i in attachment_ids],
        automatic=automatic,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        created_by_id=created_by.id if created_by is not None else None,
    )
    session.add(row)
    session.flush()  # the caller may need row.id (a forward records which mail carried it)
    return row


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


def retry_failed(session: Session, outbound_id: int, *, by: Person | None,
                 now: datetime) -> OutboundMessage:
    """Give a failed mail a fresh set of tries (a superuser's "send again"); audited.

    `by` None is the command line; a person needs the right to work tickets (the system owner
    only reads), checked here and recorded when refused.
    """
    from app.services.accounts import Right, require

    if by is not None:
        require(session, by, Right.WORK, what="retry mail")
    row = session.get(OutboundMessage, outbound_id)
    if row is None:
        raise NotFoundError(f"no outgoing mail {outbound_id}")
    if row.status != FAILED:
        raise InvalidActionError("Kun mail, der ikke kunne sendes, kan sendes igen.")
    row.status, row.attempts, row.next_attempt_at = PENDING, 0, now
    record(session, "mail_retried", actor=by, ticket_id=row.ticket_id, at=now,
           detail={"outbound_id": row.id, "kind": row.kind, "last_error": row.last_error})
    return row


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
