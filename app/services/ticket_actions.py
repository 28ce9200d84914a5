"""What superusers do to a ticket: assign, reclassify, note, reply, set status, reopen, restore.

Each function takes the Session, the acting Person and plain values, checks the right
(app.services.accounts), changes the ticket, and records it in the audit log. Nothing is
committed here: the caller's transaction (one per request) does that.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import Category, Severity, TicketStatus, Topic, ticket_ref
from app.errors import InvalidActionError
from app.mail.notifications import is_internal
from app.models import Correction, InboundMessage, Note, OutboundMessage, Person, Ticket
from app.runtime import Runtime
from app.services import audit
from app.services.accounts import Right, may, require
from app.services.tickets import get_message, get_ticket
from app.settings import Settings
from app.triage.cpr import mask_cpr

MAX_TEXT = 20_000


def _work(session: Session, person: Person, ticket_id: int, what: str, remote_addr: str | None) -> Ticket:
    """Check the right to work tickets (recording a refusal), then load the ticket."""
    require(session, person, Right.WORK, ticket_id=ticket_id, remote_addr=remote_addr, what=what)
    return get_ticket(session, ticket_id)


def _text(value: str, what: str) -> str:
    """A required, bounded free text from a form."""
    value = (value or "").strip()
    if not value:
        raise InvalidActionError(f"Skriv {what}.")
    if len(value) > MAX_TEXT:
        raise InvalidActionError(f"Teksten er for lang (højst {MAX_TEXT} tegn).")
    return value


def assign(session: Session, person: Person, ticket_id: int, assignee_id: int | None,
           *, now: datetime, remote_addr: str | None = None) -> Ticket:
    """Give the ticket to an active person (None: back to manual triage)."""
    ticket = _work(session, person, ticket_id, "assign", remote_addr)
    assignee = session.get(Person, assignee_id) if assignee_id is not None else None
    if assignee_id is not None and (assignee is None or not assignee.active):
        raise InvalidActionError("Vælg en aktiv person.")
    if assignee is not None and not may(assignee, Right.WORK):  # the system owner only reads
        raise InvalidActionError("Sagen kan kun gives til en, der må arbejde med sager.")
    old = ticket.assignee.email if ticket.assignee else None
    ticket.assignee = assignee
    ticket.updated_at = now
    audit.record(session, "ticket.assigned", actor=person, ticket_id=ticket.id, at=now,
                 detail={"from": old, "to": assignee.email if assignee else None},
                 remote_addr=remote_addr)
    return ticket


def _first_inbound(session: Session, ticket: Ticket) -> InboundMessage | None:
    """The mail the ticket was made from."""
    return session.scalars(
        select(InboundMessage).where(InboundMessage.ticket_id == ticket.id)
        .order_by(InboundMessage.received_at, InboundMessage.id).limit(1)
    ).first()


def reclassify(session: Session, person: Person, ticket_id: int, *, category: str, topic: str,
               severity: str, now: datetime, remote_addr: str | None = None) -> Correction:
    """Correct category, topic and severity; stored as a Correction the model learns from."""
    ticket = _work(session, person, ticket_id, "reclassify", remote_addr)
    try:
        new = (Category(category), Topic(topic), Severity(severity))
    except ValueError:
        raise InvalidActionError("Ukendt kategori, område eller alvor.") from None
    if new[0] is not Category.FAULT:
        new = (new[0], new[1], Severity.NORMAL)  # only faults have a severity (TAXONOMY.md)
    first = _first_inbound(session, ticket)
    correction = Correction(
        ticket_id=ticket.id, by_id=person.id, at=now,
        old_category=ticket.category, old_topic=ticket.topic, old_severity=ticket.severity,
        category=new[0].value, topic=new[1].value, severity=new[2].value,
        # The model learns words, not people: CPR numbers are masked before they are kept.
        subject=mask_cpr(first.subject if first else ticket.subject),
        text=mask_cpr(first.new_text if first else ""),
    )
    session.add(correction)
    detail = {"from": [ticket.category, ticket.topic, ticket.severity], "to": [n.value for n in new]}
    ticket.category, ticket.topic, ticket.severity = (n.value for n in new)
    ticket.abstained = False
    ticket.updated_at = now
    audit.record(session, "ticket.reclassified", actor=person, ticket_id=ticket.id, at=now,
                 detail=detail, remote_addr=remote_addr)
    return correction


def add_note(session: Session, person: Person, ticket_id: int, body: str, *, now: datetime,
             remote_addr: str | None = None) -> Note:
    """An internal note; it never leaves the municipality."""
    ticket = _work(session, person, ticket_id, "note", remote_addr)
    note = Note(ticket_id=ticket.id, author_id=person.id, body=_text(body, "en note"), created_at=now)
    session.add(note)
    ticket.updated_at = now
    audit.record(session, "ticket.note", actor=person, ticket_id=ticket.id, at=now,
                 remote_addr=remote_addr)
    return note


def _caseworker_mail(session: Session, ticket: Ticket) -> InboundMessage | None:
    """The requester's latest mail on the ticket: the one a reply answers."""
    return session.scalars(
        select(InboundMessage)
        .where(InboundMessage.ticket_id == ticket.id, InboundMessage.sender == ticket.requester)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc()).limit(1)
    ).first() or _first_inbound(session, ticket)


def reply(session: Session, settings: Settings, person: Person, ticket_id: int, body: str, *,
          now: datetime, remote_addr: str | None = None) -> OutboundMessage:
    """Answer the caseworker by mail (through the outbox), threaded on their Message-ID."""
    from app.mail.outbox import enqueue
    from app.mail.templates import render

    ticket = _work(session, person, ticket_id, "reply", remote_addr)
    if not ticket.requester:
        raise InvalidActionError("Sagen har ingen afsenderadresse at svare til.")
    ref = ticket_ref(settings.instance.ticket_prefix, ticket.id)
    subject, text = render("reply", ref=ref, subject=ticket.subject, body=_text(body, "et svar"),
                           author_name=person.name)
    if not is_internal(settings, ticket.requester):  # the mail leaves the municipality
        subject, text = mask_cpr(subject), mask_cpr(text)
    answered = _caseworker_mail(session, ticket)
    thread = [answered.message_id] if answered else []
    outbound = enqueue(session, settings, kind="reply", to=[ticket.requester], subject=subject,
                       body_text=text, ticket_id=ticket.id,
                       in_reply_to=thread[0] if thread else None, references=thread,
                       created_by=person, now=now)
    ticket.first_response_at = ticket.first_response_at or now
    if ticket.status == TicketStatus.NEW.value:
        ticket.status = TicketStatus.OPEN.value
    ticket.updated_at = now
    audit.record(session, "ticket.replied", actor=person, ticket_id=ticket.id, at=now,
                 detail={"to": ticket.requester, "message_id": outbound.message_id},
                 remote_addr=remote_addr)
    return outbound


def set_status(session: Session, person: Person, ticket_id: int, status: str, *, now: datetime,
               remote_addr: str | None = None) -> Ticket:
    """Move the ticket to `status`; resolving and closing are time-stamped, reopening clears."""
    ticket = _work(session, person, ticket_id, "status", remote_addr)
    try:
        new = TicketStatus(status)
    except ValueError:
        raise InvalidActionError("Ukendt status.") from None
    old = ticket.status
    ticket.status = new.value
    if new is TicketStatus.RESOLVED:
        ticket.resolved_at = ticket.resolved_at or now
    elif new is TicketStatus.CLOSED:
        ticket.resolved_at = ticket.resolved_at or now
        ticket.closed_at = now
    else:
        ticket.resolved_at = ticket.closed_at = None
    ticket.updated_at = now
    action = "ticket.reopened" if old in ("resolved", "closed") and new.value not in ("resolved", "closed") else "ticket.status"
    audit.record(session, action, actor=person, ticket_id=ticket.id, at=now,
                 detail={"from": old, "to": new.value}, remote_addr=remote_addr)
    return ticket


def reopen(session: Session, person: Person, ticket_id: int, *, now: datetime,
           remote_addr: str | None = None) -> Ticket:
    """Open a resolved or closed ticket again."""
    ticket = _work(session, person, ticket_id, "reopen", remote_addr)
    if ticket.status not in ("resolved", "closed"):
        raise InvalidActionError("Sagen er ikke løst eller lukket.")
    return set_status(session, person, ticket_id, TicketStatus.OPEN.value, now=now,
                      remote_addr=remote_addr)


def restore(session: Session, runtime: Runtime, person: Person, message_id: int, *,
            now: datetime, remote_addr: str | None = None) -> Ticket:
    """Make a suppressed (noise) or quarantined mail a ticket after all."""
    from app.ingest.store import open_ticket_for

    require(session, person, Right.WORK, remote_addr=remote_addr, what="restore")
    inbound = get_message(session, message_id)
    if inbound.kind not in ("noise", "quarantined") or inbound.ticket_id is not None:
        raise InvalidActionError("Kun frasorteret mail eller mail i karantæne kan gendannes.")
    old_kind = inbound.kind
    ticket = open_ticket_for(session, runtime, inbound, now)
    inbound.restored_at = now
    audit.record(session, "message.restored", actor=person, ticket_id=ticket.id, at=now,
                 detail={"message_id": inbound.message_id, "was": old_kind},
                 remote_addr=remote_addr)
    return ticket

