"""The stored state of the service: SQLAlchemy 2 typed models.

Only column types that work on SQLite and PostgreSQL. Raw mail and attachments are kept in
`blob`, addressed by SHA-256, so the same attachment mailed twice is stored once. Times are
stored as timezone-aware UTC.
"""

from app.models.base import Base, UTCDateTime, utcnow
from app.models.mail import AttachmentRecord, Blob, InboundMessage, MailboxState, OutboundMessage
from app.models.people import Person
from app.models.records import AuditEvent, JobRun
from app.models.tickets import Correction, Forward, Note, Ticket

__all__ = [
    "AttachmentRecord",
    "AuditEvent",
    "Base",
    "Blob",
    "Correction",
    "Forward",
    "InboundMessage",
    "JobRun",
    "MailboxState",
    "Note",
    "OutboundMessage",
    "Person",
    "Ticket",
    "UTCDateTime",
    "utcnow",
]
