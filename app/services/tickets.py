"""Reading tickets: the queue (views, filters, search, sorting, paging) and one ticket's history.

Paging is LIMIT/OFFSET over indexed orderings, fetching one row more than a page to know
whether there is a next one (no COUNT over the whole table on every page view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from app.errors import NotFoundError
from app.models import (
    AttachmentRecord,
    Forward,
    InboundMessage,
    Note,
    OutboundMessage,
    Person,
    Ticket,
)
from app.services import search

PAGE_SIZE = 50
OPEN_STATUSES = ("new", "open", "waiting", "forwarded")
QUEUE_VIEWS = ("mine", "areas", "open", "triage", "all")
SORTS = ("newest", "oldest", "severity", "hypercare")


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows: a view, filters, a search text, a sort order and a page."""

    view: str = "open"
    category: str = ""
    topic: str = ""
    severity: str = ""
    status: str = ""
    assignee: str = ""  # a person id, "none" for unassigned, "" for anyone
    q: str = ""
    sort: str = "newest"
    page: int = 1


@dataclass(frozen=True)
class Page:
    """One page of rows, and whether there are more."""

    rows: list[Any]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        """True after the first page."""
        return self.page > 1


def _view_clause(query: Select[Any], person: Person, view: str) -> Select[Any]:
    """Restrict to one of the queue's views."""
    if view == "mine":
        return query.where(Ticket.assignee_id == person.id, Ticket.status.in_(OPEN_STATUSES))
    if view == "areas":
        areas = list(person.areas or []) or ["-"]
        return query.where(Ticket.topic.in_(areas), Ticket.status.in_(OPEN_STATUSES))
    if view == "triage":
        return query.where(Ticket.assignee_id.is_(None), Ticket.status.in_(OPEN_STATUSES))
    if view == "all":
        return query
    return query.where(Ticket.status.in_(OPEN_STATUSES))


def _filter_clauses(session: Session, query: Select[Any], f: QueueFilter) -> Select[Any]:
    """Apply the column filters and the search text."""
    for column, value in (
        (Ticket.category, f.category),
        (Ticket.topic, f.topic),
        (Ticket.severity, f.severity),
        (Ticket.status, f.status),
    ):
        if value:
            query = query.where(column == value)
    if f.assignee == "none":
        query = query.where(Ticket.assignee_id.is_(None))
    elif f.assignee.isdigit():
        query = query.where(Ticket.assignee_id == int(f.assignee))
    if f.q.strip():
        query = query.where(search.matches(session, f.q.strip()))
    return query


# critical < high < normal alphabetically, so the plain column sorts by urgency (no CASE to
# evaluate per row); a unit test keeps the labels in that order.
SEVERITY_ORDER = ("critical", "high", "normal")


def _ordering(query: Select[Any], sort: str) -> Select[Any]:
    """Sort by age (newest or oldest first), by severity then age, or hypercare tickets first
    (those that arrived in the hypercare weeks after go-live), most severe and oldest first."""
    if sort == "hypercare":
        return query.order_by(Ticket.hypercare.desc(), Ticket.severity.asc(),
                              Ticket.created_at.asc(), Ticket.id.asc())
    if sort == "oldest":
        return query.order_by(Ticket.created_at.asc(), Ticket.id.asc())
    if sort == "severity":
        return query.order_by(Ticket.severity.asc(), Ticket.created_at.asc(), Ticket.id.asc())
    return query.order_by(Ticket.created_at.desc(), Ticket.id.desc())


def list_queue(session: Session, person: Person, f: QueueFilter) -> Page:
    """One page of the queue as `person` sees it."""
    query = select(Ticket).options(selectinload(Ticket.assignee))
    query = _ordering(_filter_clauses(session, _view_clause(query, person, f.view), f), f.sort)
    page = max(1, f.page)
    rows = list(session.scalars(query.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)))
    return Page(rows=rows[:PAGE_SIZE], page=page, has_next=len(rows) > PAGE_SIZE)


def list_messages(session: Session, kind: str, q: str = "", page: int = 1) -> Page:
    """Suppressed noise (`noise`) or quarantine (`quarantined`), newest first."""
    query = select(InboundMessage).where(InboundMessage.kind == kind)
    if q.strip():
        text = q.strip()
        query = query.where(
            or_(
                InboundMessage.subject.icontains(text, autoescape=True),
                InboundMessage.sender.icontains(text, autoescape=True),
                InboundMessage.text.icontains(text, autoescape=True),
            )
        )
    query = query.order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
    page = max(1, page)
    rows = list(session.scalars(query.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)))
    return Page(rows=rows[:PAGE_SIZE], page=page, has_next=len(rows) > PAGE_SIZE)


def get_ticket(session: Session, ticket_id: int) -> Ticket:
    """The ticket, or NotFoundError."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFoundError(f"Sagen {ticket_id} findes ikke.")
    return ticket


def get_message(session: Session, message_id: int) -> InboundMessage:
    """A stored inbound message, or NotFoundError."""
    message = session.get(InboundMessage, message_id)
    if message is None:
        raise NotFoundError("Mailen findes ikke.")
    return message


def get_attachment(session: Session, attachment_id: int) -> AttachmentRecord:
    """An attachment, or NotFoundError."""
    attachment = session.get(AttachmentRecord, attachment_id)
    if attachment is None:
        raise NotFoundError("Bilaget findes ikke.")
    return attachment


@dataclass(frozen=True)
class Entry:
    """One item of a ticket's history: an inbound mail, our mail, a note or a forward."""

    kind: str  # inbound | outbound | note | forward
    at: datetime
    item: Any
    order: int = field(default=0)


def timeline(session: Session, ticket: Ticket) -> list[Entry]:
    """Everything that happened to `ticket`, in order of time."""
    inbound = session.scalars(
        select(InboundMessage)
        .where(InboundMessage.ticket_id == ticket.id)
        .options(selectinload(InboundMessage.attachments))
    )
    outbound = session.scalars(select(OutboundMessage).where(OutboundMessage.ticket_id == ticket.id))
    notes = session.scalars(select(Note).where(Note.ticket_id == ticket.id))
    forwards = session.scalars(select(Forward).where(Forward.ticket_id == ticket.id))
    entries = [Entry("inbound", m.received_at, m, m.id) for m in inbound]
    entries += [Entry("outbound", m.created_at, m, m.id) for m in outbound]
    entries += [Entry("note", n.created_at, n, n.id) for n in notes]
    entries += [Entry("forward", f.at, f, f.id) for f in forwards]
    return sorted(entries, key=lambda e: (e.at, e.kind != "inbound", e.order))


def people(session: Session) -> list[Person]:
    """The active people, by name (for the assignee choices)."""
    return list(session.scalars(select(Person).where(Person.active.is_(True)).order_by(Person.name)))



def list_outbox(session: Session, page: int = 1) -> Page:
    """Mail not (yet) sent: failed first, then pending, newest first within each."""
    query = (
        select(OutboundMessage)
        .where(OutboundMessage.status != "sent")
        .order_by((OutboundMessage.status != "failed"), OutboundMessage.created_at.desc(),
                  OutboundMessage.id.desc())
    )
    page = max(1, page)
    rows = list(session.scalars(query.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)))
    return Page(rows=rows[:PAGE_SIZE], page=page, has_next=len(rows) > PAGE_SIZE)


def failed_mail_count(session: Session) -> int:
    """How many outgoing mails were given up on (shown as a warning on the queue)."""
    from sqlalchemy import func

    return int(session.scalar(select(func.count(OutboundMessage.id))
                              .where(OutboundMessage.status == "failed")) or 0)


@dataclass(frozen=True)
class TicketPage:
    """Everything the ticket page shows."""

    ticket: Ticket
    entries: list[Entry]
    forwards: list[Forward]
    people: list[Person]


def ticket_page(session: Session, ticket_id: int) -> TicketPage:
    """The ticket, its history in order, its forwards and the people it can be assigned to."""
    ticket = get_ticket(session, ticket_id)
    forwards = list(session.scalars(select(Forward).where(Forward.ticket_id == ticket.id).order_by(Forward.at)))
    return TicketPage(ticket, timeline(session, ticket), forwards, people(session))
