"""The automatic mail the pipeline queues: acknowledgements to caseworkers, critical alerts.

Both are written to the outbox in the caller's transaction and carry `Auto-Submitted:
auto-replied`. Who gets an acknowledgement: only the person who wrote a NEW ticket that arrived
by mail. Never noise or follow-ups, never the Netcompany service desk or KOMBIT (any address in
their domains: their systems answer automatically and would start a loop), never our own
address, and never mail brought in by `import` (history must not mail caseworkers about
requests long answered). The configured people of the support organisation DO get one when they
write a ticket themselves: it gives them the ticket number to refer to, like anyone else.
Every address gets at most `smtp.ack_limit_per_hour` automatic mails an hour; beyond that the
acknowledgement is skipped and the skip is recorded in the audit log.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import Text, bindparam, cast, select
from sqlalchemy.orm import Session

from app.domain import MessageKind, ticket_ref
from app.mail.outbox import enqueue
from app.mail.templates import render
from app.models import InboundMessage, OutboundMessage, Ticket
from app.services.audit import record
from app.settings import Settings

log = logging.getLogger(__name__)


def _domain(address: str) -> str:
    """The domain part of an address, lower case."""
    return address.rpartition("@")[2].lower()


def is_internal(settings: Settings, address: str) -> bool:
    """True for an address of the municipality: our own mail domains or a subdomain of them.

    Mail to caseworkers there keeps CPR numbers (they need to know which child's case is
    meant); mail to any other address is masked like a forward (docs/SECURITY.md).
    """
    domain = _domain(address.strip())
    ours = {_domain(a) for a in (settings.smtp.sender, settings.mailbox.username) if "@" in a}
    return any(domain == d or domain.endswith("." + d) for d in ours if d)


def never_acknowledged(settings: Settings, address: str) -> str | None:
    """Why `address` must never get an automatic reply, or None when it may."""
    address = address.strip().lower()
    if not address or "@" not in address:
        return "no sender address"
    ours = {settings.smtp.sender.lower(), settings.mailbox.username.lower()}
    if address in ours:
        return "our own address"
    if _domain(address) == _domain(settings.addresses.service_desk):
        return "the Netcompany service desk"
    if _domain(address) == _domain(settings.addresses.kombit):
        return "KOMBIT"
    return None


# Built once with parameters: constructing the statement anew cost more than running it.
# to_addrs is a JSON list written by json.dumps, so an address occurs in the stored text as
# its JSON string: the LIKE on that text narrows the rows on both backends without decoding
# every automatic mail of the hour; the exact test in Python decides.
_AUTOMATIC_TO = select(OutboundMessage.to_addrs).where(
    OutboundMessage.automatic.is_(True),
    OutboundMessage.created_at > bindparam("since"),
    cast(OutboundMessage.to_addrs, Text).like(bindparam("token"), escape="/"),
)


def automatic_mails_last_hour(session: Session, address: str, now: datetime) -> int:
    """How many automatic mails went (or are queued) to `address` in the hour before `now`."""
    token = json.dumps(address)
    for char in "/%_":  # LIKE's wildcards and its escape character, taken literally
        token = token.replace(char, "/" + char)
    rows = session.scalars(_AUTOMATIC_TO, {"since": now - timedelta(hours=1),
                                           "token": f"%{token}%"})
    return sum(1 for to_addrs in rows if address in to_addrs)


def ack_blocker(
    session: Session, settings: Settings, ticket: Ticket, inbound: InboundMessage, now: datetime
) -> str | None:
    """Why this message gets no acknowledgement, or None when it gets one."""
    if inbound.kind != MessageKind.TICKET.value:
        return f"a {inbound.kind}, not a new ticket"
    if inbound.ticket_id not in (None, ticket.id):
        return "the message belongs to another ticket"
    if inbound.source == "import":
        return "imported history"
    blocked = never_acknowledged(settings, inbound.sender)
    if blocked:
        return blocked
    sent = automatic_mails_last_hour(session, inbound.sender.lower(), now)
    if sent >= settings.smtp.ack_limit_per_hour:
        return f"rate limit: {sent} automatic mails in the last hour"
    return None


def queue_acknowledgement(
    session: Session, settings: Settings, ticket: Ticket, inbound: InboundMessage, now: datetime
) -> OutboundMessage | None:
    """Queue the Danish acknowledgement of a new ticket to its writer, if they should get one."""
    if ticket.id is None:
        session.flush()  # the ticket number goes into the subject and the Message-ID
    reason = ack_blocker(session, settings, ticket, inbound, now)
    if reason is not None:
        log.info("no acknowledgement for ticket %s: %s", ticket.id, reason)
        if reason.startswith("rate limit"):
            record(session, "ack_suppressed", actor_label="system", ticket_id=ticket.id,
                   detail={"to": inbound.sender.lower(), "reason": reason}, at=now)
        return None
    subject, body = render(
        "acknowledgement",
        ref=ticket_ref(settings.instance.ticket_prefix, ticket.id),
        subject=inbound.subject or ticket.subject,
        requester_name=inbound.sender_name or ticket.requester_name,
        category=ticket.category,
        topic=ticket.topic,
        severity=ticket.severity,
        has_cpr=bool(inbound.has_cpr),
        organisation=settings.smtp.sender_name,
    )
    # A mail without Message-ID got a made-up one (…@sha256.invalid): nothing to thread on.
    parent = None if inbound.message_id.endswith(".invalid") else inbound.message_id
    return enqueue(
        session, settings, kind="ack", to=[inbound.sender], subject=subject, body_text=body,
        ticket_id=ticket.id, in_reply_to=parent,
        references=list(inbound.references or []) if parent else [], automatic=True, now=now,
    )


def queue_critical_alert(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    recipients: tuple[str, ...],
    now: datetime,
) -> OutboundMessage | None:
    """Alert those who may forward faults, and the system responsible, of a critical fault."""
    to = sorted({r.strip().lower() for r in recipients if r and r.strip()})
    if not to:
        return None
    if ticket.id is None:
        session.flush()
    ref = ticket_ref(settings.instance.ticket_prefix, ticket.id)
    subject, body = render(
        "critical_alert",
        ref=ref,
        subject=ticket.subject,
        requester=ticket.requester,
        requester_name=ticket.requester_name,
        category=ticket.category,
        topic=ticket.topic,
        severity=ticket.severity,
        assignee=ticket.assignee.name if ticket.assignee is not None else None,
        link=f"{settings.instance.base_url.rstrip('/')}/tickets/{ticket.id}",
        organisation=settings.smtp.sender_name,
    )
    return enqueue(
        session, settings, kind="alert", to=to, subject=subject, body_text=body,
        ticket_id=ticket.id, extra_headers={"Importance": "high", "X-Priority": "1"},
        automatic=True, now=now,
    )
