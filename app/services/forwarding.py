"""Forwarding a fault to the Netcompany service desk, or a change request to KOMBIT.

The right is checked here, not in the view: a forged request from someone without it is
refused and recorded as `forward_refused`. The draft is what the preview shows and exactly
what is sent: CPR numbers masked in subject, text and attachment names; attachments only
when chosen. The Forward row written with the outbox row is never updated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import Category, TicketStatus, Topic, ticket_ref
from app.errors import InvalidActionError, NotFoundError
from app.models import AttachmentRecord, Forward, InboundMessage, Person, Ticket
from app.services import audit
from app.services.accounts import Right, require
from app.services.tickets import get_ticket
from app.settings import Settings
from app.triage.cpr import mask_cpr

MAX_REASON = 2000


@dataclass(frozen=True)
class Target:
    """A party outside the municipality we forward to."""

    name: str  # netcompany | kombit
    right: Right
    category: Category
    template: str
    kind: str  # OutboundMessage.kind


TARGETS = {
    "netcompany": Target("netcompany", Right.FORWARD_NETCOMPANY, Category.FAULT,
                         "forward_netcompany", "forward_nc"),
    "kombit": Target("kombit", Right.FORWARD_KOMBIT, Category.CHANGE_REQUEST,
                     "forward_kombit", "forward_kombit"),
}


@dataclass(frozen=True)
class AttachmentChoice:
    """One attachment of the ticket as the preview offers it (name already masked)."""

    id: int
    filename: str
    content_type: str
    size: int
    included: bool


@dataclass(frozen=True)
class ForwardDraft:
    """Exactly what will be sent."""

    target: str
    to: str
    subject: str
    body: str
    severity: str
    reason: str
    references: tuple[str, ...]
    attachments: tuple[AttachmentChoice, ...]

    @property
    def included(self) -> tuple[AttachmentChoice, ...]:
        """The attachments that go with the mail."""
        return tuple(a for a in self.attachments if a.included)


def target_of(name: str) -> Target:
    """The target called `name`, or NotFoundError."""
    if name not in TARGETS:
        raise NotFoundError("Ukendt modtager.")
    return TARGETS[name]


def _address(settings: Settings, target: Target) -> str:
    """The configured address of the target."""
    return settings.addresses.service_desk if target.name == "netcompany" else settings.addresses.kombit


def _check(session: Session, person: Person, ticket_id: int, target: Target,
           remote_addr: str | None) -> Ticket:
    """The right (refusal recorded), then whether this ticket may go to this target."""
    require(session, person, target.right, ticket_id=ticket_id, remote_addr=remote_addr,
            what=f"forward to {target.name}")
    ticket = get_ticket(session, ticket_id)
    if ticket.category != target.category.value:
        wanted = "fejl" if target.category is Category.FAULT else "ændringsønsker"
        raise InvalidActionError(f"Kun {wanted} kan sendes til denne modtager. Omklassificér først.")
    if target.name == "kombit" and ticket.topic == Topic.OPSAETNING.value:
        raise InvalidActionError(
            "Lokale opsætningsønsker håndteres af DUBU-administratoren og sendes ikke til KOMBIT."
        )
    return ticket


def _mails(session: Session, ticket: Ticket, to: str) -> list[InboundMessage]:
    """The ticket's inbound mails in order, except those from the target itself."""
    query = (select(InboundMessage).where(InboundMessage.ticket_id == ticket.id)
             .order_by(InboundMessage.received_at, InboundMessage.id))
    return [m for m in session.scalars(query) if m.sender != to]


def _masked_text(mails: list[InboundMessage]) -> str:
    """The users' mails, one after the other, with CPR numbers masked."""
    parts = []
    for mail in mails:
        sender = f"{mail.sender_name} <{mail.sender}>" if mail.sender_name else mail.sender
        parts.append(f"Fra: {sender}\nEmne: {mail.subject}\n\n{mail.text.strip()}")
    return mask_cpr("\n\n---\n\n".join(parts))


def _choices(session: Session, mails: list[InboundMessage],
             chosen: Sequence[int]) -> tuple[AttachmentChoice, ...]:
    """Every attachment of those mails; included only when chosen."""
    ids = [m.id for m in mails]
    records: list[AttachmentRecord] = list(session.scalars(
        select(AttachmentRecord).where(AttachmentRecord.message_id.in_(ids))
        .order_by(AttachmentRecord.id)
    )) if ids else []
    return tuple(
        AttachmentChoice(a.id, mask_cpr(a.filename or "bilag"), a.content_type, a.size,
                         a.id in set(chosen))
        for a in records
    )


def draft_forward(session: Session, settings: Settings, person: Person, ticket_id: int,
                  target_name: str, *, reason: str = "", attachment_ids: Sequence[int] = (),
                  remote_addr: str | None = None) -> ForwardDraft:
    """What forwarding this ticket would send (the preview); checks the right first."""
    from app.mail.templates import render

    target = target_of(target_name)
    ticket = _check(session, person, ticket_id, target, remote_addr)
    to = _address(settings, target)
    mails = _mails(session, ticket, to)
    subject, body = render(
        target.template, ref=ticket_ref(settings.instance.ticket_prefix, ticket.id),
        subject=mask_cpr(ticket.subject), severity=ticket.severity, reason=mask_cpr(reason.strip()),
        forwarded_by=person.name, forwarded_by_phone=person.phone or "",
        masked_text=_masked_text(mails),
    )
    references = tuple(m.message_id for m in mails[:1])  # the caseworker's original
    # Masked here too: the reason is kept in the Forward record and the audit log for good.
    return ForwardDraft(target.name, to, subject, body, ticket.severity, mask_cpr(reason.strip()),
                        references, _choices(session, mails, attachment_ids))


def send_forward(session: Session, settings: Settings, person: Person, ticket_id: int,
                 target_name: str, *, reason: str, attachment_ids: Sequence[int] = (),
                 now: datetime, remote_addr: str | None = None) -> Forward:
    """Forward the ticket: outbox row, immutable Forward record, audit, status forwarded."""
    from app.mail.outbox import enqueue

    if not reason.strip():
        draft_forward(session, settings, person, ticket_id, target_name, remote_addr=remote_addr)
        raise InvalidActionError("Skriv en begrundelse for videresendelsen.")
    if len(reason) > MAX_REASON:
        raise InvalidActionError(f"Begrundelsen er for lang (højst {MAX_REASON} tegn).")
    draft = draft_forward(session, settings, person, ticket_id, target_name, reason=reason,
                          attachment_ids=attachment_ids, remote_addr=remote_addr)
    outbound = enqueue(
        session, settings, kind=TARGETS[draft.target].kind, to=[draft.to], subject=draft.subject,
        body_text=draft.body, ticket_id=ticket_id, references=draft.references,
        attachment_ids=[a.id for a in draft.included], created_by=person, now=now,
    )
    session.flush()
    record = Forward(
        ticket_id=ticket_id, target=draft.target, to_addr=draft.to, by_id=person.id, at=now,
        reason=draft.reason, severity=draft.severity, subject=draft.subject, body_sent=draft.body,
        attachments_sent=[{"filename": a.filename, "sha256": _sha(session, a.id)} for a in draft.included],
        outbound_id=outbound.id,
    )
    session.add(record)
    ticket = get_ticket(session, ticket_id)
    ticket.status = TicketStatus.FORWARDED.value
    ticket.forwarded_at = now
    ticket.updated_at = now
    audit.record(session, f"ticket.forwarded.{draft.target}", actor=person, ticket_id=ticket_id,
                 at=now, remote_addr=remote_addr,
                 # A count, not the names: a file name may name the child, and the audit log
                 # outlives retention (the Forward row has the names until then).
                 detail={"to": draft.to, "reason": draft.reason, "message_id": outbound.message_id,
                         "attachments": len(draft.included)})
    return record


def _sha(session: Session, attachment_id: int) -> str:
    """The SHA-256 of an attachment's bytes, for the record."""
    record = session.get(AttachmentRecord, attachment_id)
    return record.sha256 if record else ""

