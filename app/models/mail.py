"""Mail as stored: the mailbox's read position, raw bytes by SHA-256, inbound mail with its
attachments, and the outbox of mail we send."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow

if TYPE_CHECKING:
    from app.models.people import Person
    from app.models.tickets import Ticket


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
