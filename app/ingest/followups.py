"""Which ticket a reply belongs to, and what a follow-up does to its ticket.

Three matchers in order (issue 2 item 6): our own or a ticket's stored Message-IDs in
In-Reply-To/References; the subject tag [DUBU-123] from someone already taking part; a reply
subject from a participant whose quote holds the ticket's text. References to mail we never saw
match nothing, so a stranger cannot attach mail to a ticket by guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from app.domain import OUR_MESSAGE_ID_PREFIX, ParsedMessage, TicketStatus
from app.ingest.text import normalise_subject, quoted_text
from app.models import Forward, InboundMessage, OutboundMessage, Ticket
from app.services import audit
from app.settings import Settings

REPLY_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:re|sv|vs|aw|fw|fwd|wg|tr|antw|odp)\s*(?:\[\d+\]|\(\d+\))?\s*:",
    re.IGNORECASE,
)
NC_CASE = re.compile(r"\bNC-(\d{4,10})\b", re.IGNORECASE)
_REOPEN = {TicketStatus.RESOLVED.value, TicketStatus.WAITING.value}
_CANDIDATES = 200  # most recent tickets a subject match looks at


@dataclass(frozen=True)
class FollowupMatch:
    """A ticket a message continues, and which rule said so."""

    ticket_id: int
    rule: str  # "references" | "tag" | "subject"


def _bare(message_id: str) -> str:
    """A Message-ID without angle brackets or blanks."""
    return message_id.strip().strip("<>").strip()


def match_by_references(session: Session, settings: Settings, parsed: ParsedMessage) -> int | None:
    """A ticket named by In-Reply-To/References: our outgoing mail first, then stored inbound mail."""
    ids = [_bare(m) for m in (*parsed.in_reply_to, *reversed(parsed.references)) if _bare(m)]
    if not ids:
        return None
    forms = ids + [f"<{m}>" for m in ids]
    found: dict[str, int] = {}
    for model in (OutboundMessage, InboundMessage):
        rows = session.execute(
            select(model.message_id, model.ticket_id).where(
                model.message_id.in_(forms), model.ticket_id.is_not(None)
            )
        )
        for message_id, ticket_id in rows:
            if ticket_id is not None:
                found.setdefault(_bare(message_id), ticket_id)
    for message_id in ids:  # In-Reply-To, then the newest reference first
        if message_id in found:
            return found[message_id]
    return _ticket_named_by_our_id(session, settings, ids)


def _ticket_named_by_our_id(session: Session, settings: Settings, ids: list[str]) -> int | None:
    """Our Message-IDs name their ticket (dubu-triage.DUBU-12.…): a fallback if the row is gone."""
    pattern = re.compile(
        re.escape(OUR_MESSAGE_ID_PREFIX + settings.instance.ticket_prefix) + r"-(\d+)\.",
        re.IGNORECASE,
    )
    for message_id in ids:
        named = pattern.match(message_id)
        if named and session.get(Ticket, int(named.group(1))) is not None:
            return int(named.group(1))
    return None


def participants(session: Session, settings: Settings, ticket: Ticket) -> set[str]:
    """Who takes part in a ticket: requester, its senders, recipients of its mail, the service desk."""
    people = {ticket.requester.lower()} if ticket.requester else set()
    people.update(
        s.lower()
        for s in session.scalars(
            select(InboundMessage.sender).where(InboundMessage.ticket_id == ticket.id)
        )
        if s
    )
    for to_addrs, cc_addrs in session.execute(
        select(OutboundMessage.to_addrs, OutboundMessage.cc_addrs).where(
            OutboundMessage.ticket_id == ticket.id
        )
    ):
        people.update(str(a).lower() for a in (*(to_addrs or ()), *(cc_addrs or ())))
    forwarded = ticket.forwarded_at is not None or session.scalars(
        select(Forward.id).where(Forward.ticket_id == ticket.id, Forward.target == "netcompany")
    ).first() is not None
    if forwarded:
        people.add(settings.addresses.service_desk.lower())
    return people


def match_by_tag(session: Session, settings: Settings, parsed: ParsedMessage) -> int | None:
    """The [DUBU-123] tag, counted only when the sender already takes part in that ticket."""
    tag = re.compile(r"\[" + re.escape(settings.instance.ticket_prefix) + r"-(\d+)\]", re.IGNORECASE)
    for number in tag.findall(parsed.subject or ""):
        ticket = session.get(Ticket, int(number))
        if ticket is not None and parsed.from_addr in participants(session, settings, ticket):
            return ticket.id
    return None


def _squash(text: str) -> str:
    """Lower-case text without quote marks and with single spaces, for a loose comparison."""
    lines = (line.lstrip("> \t") for line in text.splitlines())
    return " ".join(" ".join(lines).split()).lower()


def quote_holds(original_new_text: str, reply_text: str) -> bool:
    """True when one of the first few distinctive lines of the original is in the reply's quote.

    Loose on purpose: mail clients re-wrap and cut quotes, and the subject and the sender have
    already been checked. Lines are compared with quote marks and line breaks squashed.
    """
    lines = [" ".join(line.split()).lower() for line in original_new_text.splitlines()]
    distinctive = [line for line in lines if len(line) >= 20][:3]
    if not distinctive:
        distinctive = [_squash(original_new_text)] if _squash(original_new_text) else []
    if not distinctive:
        return False
    quote = _squash(quoted_text(reply_text) or reply_text)
    return any(line in quote for line in distinctive)


def _candidate_tickets(session: Session, settings: Settings, sender: str) -> list[Ticket]:
    """Recent tickets the sender takes part in (as requester, sender or recipient)."""
    from_inbound = select(InboundMessage.ticket_id).where(InboundMessage.sender == sender)
    pattern = f'%"{sender}"%'
    from_outbound = select(OutboundMessage.ticket_id).where(
        or_(cast(OutboundMessage.to_addrs, String).like(pattern),
            cast(OutboundMessage.cc_addrs, String).like(pattern))
    )
    clauses = [Ticket.requester == sender, Ticket.id.in_(from_inbound), Ticket.id.in_(from_outbound)]
    if sender == settings.addresses.service_desk.lower():
        clauses.append(Ticket.forwarded_at.is_not(None))
    query = select(Ticket).where(or_(*clauses)).order_by(Ticket.id.desc()).limit(_CANDIDATES)
    return list(session.scalars(query))


def match_by_subject(session: Session, settings: Settings, parsed: ParsedMessage) -> int | None:
    """A reply subject from a participant, same normalised subject, the ticket's text quoted."""
    if not parsed.from_addr or not REPLY_PREFIX.match(parsed.subject or ""):
        return None
    wanted = normalise_subject(parsed.subject).casefold()
    if not wanted:
        return None
    for ticket in _candidate_tickets(session, settings, parsed.from_addr):
        if normalise_subject(ticket.subject).casefold() != wanted:
            continue
        first = session.scalars(
            select(InboundMessage.new_text)
            .where(InboundMessage.ticket_id == ticket.id)
            .order_by(InboundMessage.received_at, InboundMessage.id)
            .limit(1)
        ).first()
        if first and quote_holds(first, parsed.text):
            return ticket.id
    return None


MATCHERS = (
    ("references", match_by_references),
    ("tag", match_by_tag),
    ("subject", match_by_subject),
)


def find_followup(session: Session, settings: Settings, parsed: ParsedMessage) -> FollowupMatch | None:
    """The ticket this message continues, by the first matcher that finds one."""
    for rule, matcher in MATCHERS:
        ticket_id = matcher(session, settings, parsed)
        if ticket_id is not None:
            return FollowupMatch(ticket_id=ticket_id, rule=rule)
    return None


def attach_followup(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    inbound: InboundMessage,
    match: FollowupMatch,
    now: datetime,
) -> None:
    """Attach a follow-up: reopen a resolved or waiting ticket, record a service-desk case number."""
    inbound.ticket = ticket
    detail: dict[str, object] = {"message_id": inbound.message_id, "rule": match.rule}
    if inbound.sender == settings.addresses.service_desk.lower():
        case = NC_CASE.search(inbound.subject or "")
        if case and ticket.nc_case != f"NC-{case.group(1)}":
            ticket.nc_case = f"NC-{case.group(1)}"
            detail["nc_case"] = ticket.nc_case
    if ticket.status in _REOPEN:
        detail["reopened_from"] = ticket.status
        ticket.status = TicketStatus.OPEN.value
    ticket.has_cpr = ticket.has_cpr or inbound.has_cpr
    ticket.updated_at = now
    audit.record(session, "ticket.followup", actor_label=inbound.sender or "system",
                 ticket_id=ticket.id, detail=detail, at=now)
