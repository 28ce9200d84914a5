"""Tickets and what people did to them: internal notes, forwards out of the municipality,
and reclassifications kept as training data."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow

if TYPE_CHECKING:
    from app.models.mail import InboundMessage
    from app.models.people import Person


class Ticket(Base):
    """A caseworker's request and everything that happened to it."""

    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(primary_key=True)  # the number in DUBU-123
    subject: Mapped[str] = mapped_column(Text, default="")
    requester: Mapped[str] = mapped_column(String(320), default="")
    requester_name: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(30))
    topic: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(20), default="normal")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    abstained: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20), default="new")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    route_reason: Mapped[str] = mapped_column(Text, default="")
    nc_case: Mapped[str | None] = mapped_column(String(20))
    has_cpr: Mapped[bool] = mapped_column(Boolean, default=False)
    hypercare: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)  # arrival of the first mail
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    forwarded_at: Mapped[datetime | None] = mapped_column()

    assignee: Mapped[Person | None] = relationship()
    messages: Mapped[list[InboundMessage]] = relationship(
        back_populates="ticket", order_by="InboundMessage.received_at"
    )

    __table_args__ = (
        Index("ix_ticket_status_created", "status", "created_at"),
        Index("ix_ticket_assignee_status", "assignee_id", "status"),
        Index("ix_ticket_category_severity", "category", "severity"),
        Index("ix_ticket_created", "created_at"),  # the queue's "all tickets" view, newest first
        Index("ix_ticket_severity_created", "severity", "created_at", "id"),  # queue by severity
    )


class Note(Base):
    """An internal note on a ticket; never leaves the municipality."""

    __tablename__ = "note"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[Person | None] = relationship()


class Forward(Base):
    """What left the municipality to the service desk or KOMBIT, by whom, when and why.

    Written once and never updated: the record of a disclosure.
    """

    __tablename__ = "forward"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    target: Mapped[str] = mapped_column(String(20))  # netcompany | kombit
    to_addr: Mapped[str] = mapped_column(String(320))
    by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(Text)
    body_sent: Mapped[str] = mapped_column(Text)
    attachments_sent: Mapped[list[Any]] = mapped_column(default=list)  # filenames + sha256
    outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_message.id"))

    by: Mapped[Person] = relationship()


class Correction(Base):
    """A superuser's reclassification: training data for the next model."""

    __tablename__ = "correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    old_category: Mapped[str] = mapped_column(String(30))
    old_topic: Mapped[str] = mapped_column(String(30))
    old_severity: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(30))
    topic: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(Text, default="")  # what the model learns from
    text: Mapped[str] = mapped_column(Text, default="")
