"""The outbox: mail is written as a row in the transaction that causes it, and sent later.

`enqueue` only adds a row to the caller's session, so a mail exists exactly when the change that
caused it was committed. The worker's `send_pending` (in `app.mail.sending`, re-exported here)
claims due rows one at a time, sends them, and marks each sent right after the server accepted
it; an error backs off exponentially, and after `smtp.max_attempts` tries the row is `failed`,
kept, and shown to superusers, who may `retry_failed` it. An SMTP outage therefore delays mail
and never loses it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy.orm import Session

from app.domain import LOOP_HEADER, OUR_MESSAGE_ID_PREFIX
from app.errors import InvalidActionError, NotFoundError
from app.mail.sending import (  # noqa: F401 - some are re-exported for callers
    FAILED,
    LEASE,
    PENDING,
    SendReport,
    backoff,
    send_pending,
)
from app.models import OutboundMessage, Person, utcnow
from app.services.audit import record
from app.settings import Settings


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
