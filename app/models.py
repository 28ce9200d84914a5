"""The stored state of the service: SQLAlchemy 2 typed models.

Only column types that work on SQLite and PostgreSQL. Raw mail and attachments are kept in
`blob`, addressed by SHA-256, so the same attachment mailed twice is stored once. Times are
stored as timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Store in UTC; a naive value is taken to be UTC already."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Give back an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with constraint names Alembic can rely on."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Person(Base):
    """A person of the support organisation; seeded from the configuration."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    areas: Mapped[list[Any]] = mapped_column(default=list)
    may_forward: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str] = mapped_column(String(40), default="")
    away_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Part of every session's id: logging out counts it up, which ends every session of the
    # person (the session cookie lives in the browser; a copy of it must die at log-out too).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailboxState(Base):
    """How far the mailbox has been read: UIDVALIDITY and the last UID stored, per folder."""

    __tablename__ = "mailbox_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(500), unique=True)  # user@host/folder
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Blob(Base):
    """Raw mail or an attachment's bytes, addressed by SHA-256."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


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


class InboundMessage(Base):
    """One mail that reached the mailbox, raw bytes kept, and what it became."""

    __tablename__ = "inbound_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    raw_size: Mapped[int] = mapped_column(Integer, default=0)
    mailbox: Mapped[str | None] = mapped_column(String(500))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(20), default="imap")  # imap | import
    received_at: Mapped[datetime] = mapped_column(default=utcnow)  # INTERNALDATE or Date
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # MessageKind
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    sender: Mapped[str] = mapped_column(String(320), default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    to_addrs: Mapped[list[Any]] = mapped_column(default=list)
    cc_addrs: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    in_reply_to: Mapped[list[Any]] = mapped_column(default=list)
    references: Mapped[list[Any]] = mapped_column(default=list)
    text: Mapped[str] = mapped_column(Text, default="")
    new_text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    has_cpr: Mapped[bool] = mapped_column(Boolean, default=False)
    noise_kind: Mapped[str | None] = mapped_column(String(20))
    noise_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)  # why it is quarantined
    defects: Mapped[list[Any]] = mapped_column(default=list)
    restored_at: Mapped[datetime | None] = mapped_column()

    ticket: Mapped[Ticket | None] = relationship(back_populates="messages")
    attachments: Mapped[list[AttachmentRecord]] = relationship(back_populates="message")

    __table_args__ = (
        UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_inbound_message_imap_uid"),
        Index("ix_inbound_message_kind_received", "kind", "received_at"),
        Index("ix_inbound_message_ticket", "ticket_id"),
    )


class AttachmentRecord(Base):
    """An attachment or inline image of an inbound mail."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("inbound_message.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(500), default="")
    content_type: Mapped[str] = mapped_column(String(200), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    content_id: Mapped[str | None] = mapped_column(String(500))

    message: Mapped[InboundMessage] = relationship(back_populates="attachments")


class OutboundMessage(Base):
    """A mail we send, queued in the transaction that caused it (the outbox)."""

    __tablename__ = "outbound_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    kind: Mapped[str] = mapped_column(String(30))  # ack|reply|alert|forward_nc|forward_kombit|...
    to_addrs: Mapped[list[Any]] = mapped_column(default=list)
    cc_addrs: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[Any]] = mapped_column(default=list)
    extra_headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attachment_ids: Mapped[list[Any]] = mapped_column(default=list)  # AttachmentRecord ids
    # Auto-Submitted mail (acknowledgements, alerts): counted by the per-address rate limit.
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    created_by: Mapped[Person | None] = relationship()

    __table_args__ = (
        Index("ix_outbound_status_next", "status", "next_attempt_at"),
        Index("ix_outbound_automatic_created", "automatic", "created_at"),
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


class AuditEvent(Base):
    """Who did what, when: state changes, forwards, log-ins and refusals."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320), default="system")  # email or "system"
    action: Mapped[str] = mapped_column(String(60))
    ticket_id: Mapped[int | None] = mapped_column(Integer)  # kept after retention deletes it
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_action_actor", "action", "actor"),
    )


class JobRun(Base):
    """When a scheduled job last ran for a period (report week, digest day), so none repeats."""

    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(40))  # e.g. 2024-W16, 2024-04-09
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_run_job_period"),)
