"""The frozen values that pass between the steps of the ingestion pipeline.

Nothing here touches a database, the network or Flask: these are the nouns of the
pipeline (DESIGN.md, "The flow of one message"), shared by ingestion, triage and the web view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Category(StrEnum):
    """The writer's primary intent (TAXONOMY.md)."""

    QUESTION = "question"
    FAULT = "fault"
    CHANGE_REQUEST = "change_request"


class Topic(StrEnum):
    """The part of DUBU a ticket concerns; drives routing."""

    SAGSBEHANDLING = "sagsbehandling"
    OEKONOMI = "oekonomi"
    BREVE = "breve"
    ADGANG = "adgang"
    OPSAETNING = "opsaetning"
    LEDELSESINFORMATION = "ledelsesinformation"
    ANDET = "andet"


class Severity(StrEnum):
    """How urgent a fault is; everything that is not a fault is normal."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"


class MessageKind(StrEnum):
    """What a stored inbound message became."""

    TICKET = "ticket"
    FOLLOWUP = "followup"
    NOISE = "noise"
    QUARANTINED = "quarantined"


class NoiseKind(StrEnum):
    """Why a message is noise (TAXONOMY.md `noise_kind`)."""

    AUTOREPLY = "autoreply"
    BOUNCE = "bounce"
    NEWSLETTER = "newsletter"
    SPAM = "spam"
    RECEIPT = "receipt"
    CALENDAR = "calendar"
    LOOP = "loop"


class TicketStatus(StrEnum):
    """A ticket's place in its life."""

    NEW = "new"
    OPEN = "open"
    WAITING = "waiting"
    FORWARDED = "forwarded"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Role(StrEnum):
    """The roles of the support organisation (ORGANISATION.md)."""

    SUPERUSER = "superuser"
    ADMINISTRATOR = "administrator"
    SYSTEM_RESPONSIBLE = "system_responsible"
    SYSTEM_OWNER = "system_owner"
    PROFESSIONAL_LEAD = "professional_lead"


@dataclass(frozen=True)
class Attachment:
    """One attachment or inline part of a mail, decoded."""

    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True)
class ParsedMessage:
    """A mail as the pipeline sees it after parsing; nothing of the original is lost.

    `text` is the full plain text (HTML turned into text where there was no plain part);
    `new_text` is what the writer wrote this time: quoted replies, signatures, mobile
    footers and disclaimers stripped. Classification reads `subject` and `new_text` only.
    """

    message_id: str  # without angle brackets; a sha256-derived id where the header is missing
    subject: str
    from_addr: str  # lower-case address, "" when absent
    from_name: str
    to_addrs: tuple[str, ...]
    cc_addrs: tuple[str, ...]
    date: datetime | None  # the Date header, timezone-aware, None when absent or broken
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]  # every header, decoded, in order
    text: str
    new_text: str
    html: str | None
    attachments: tuple[Attachment, ...] = ()
    content_type: str = "text/plain"
    defects: tuple[str, ...] = ()  # what the parser had to repair, for the record

    def header(self, name: str) -> str | None:
        """Return the first header called `name` (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


@dataclass(frozen=True)
class NoiseVerdict:
    """Why a message is automatic mail rather than a person's request."""

    kind: NoiseKind
    reason: str


@dataclass(frozen=True)
class Reason:
    """One piece of evidence behind a classification: a rule that fired or a weighty word."""

    source: str  # "rule" | "model" | "default"
    name: str  # rule name, or the feature (word) that weighed
    field: str  # "category" | "topic" | "severity"
    label: str
    weight: float

    def as_dict(self) -> dict[str, object]:
        """The reason as stored with the ticket."""
        return {
            "source": self.source,
            "name": self.name,
            "field": self.field,
            "label": self.label,
            "weight": round(self.weight, 4),
        }


@dataclass(frozen=True)
class Classification:
    """Category, topic and severity of a new ticket, with confidence and the reasons why."""

    category: Category
    topic: Topic
    severity: Severity
    confidence: float  # 0..1, the lowest of the decisions that matter for routing
    abstained: bool  # True when confidence is below the configured threshold
    reasons: tuple[Reason, ...] = ()
    category_confidence: float = 1.0
    topic_confidence: float = 1.0
    severity_confidence: float = 1.0


@dataclass(frozen=True)
class RouteDecision:
    """Who gets a ticket, and who must be alerted at once."""

    assignee_email: str | None  # None: manual triage
    reason: str
    alert_emails: tuple[str, ...] = field(default_factory=tuple)


def ticket_ref(prefix: str, number: int) -> str:
    """The name a ticket goes by in the web view and in subjects: DUBU-123."""
    return f"{prefix}-{number}"


# Our own marks on outgoing mail: a loop header, and Message-IDs that name their ticket
# (<dubu-triage.DUBU-123.ack.TOKEN@korsbaek.dk>). Mail carrying either that comes back to the
# mailbox is our own and is never treated as a person's request.
LOOP_HEADER = "X-DUBU-Triage-Loop"
OUR_MESSAGE_ID_PREFIX = "dubu-triage."


def is_our_message_id(message_id: str) -> bool:
    """True when a Message-ID (without angle brackets) was made by this service."""
    return message_id.strip("<> ").lower().startswith(OUR_MESSAGE_ID_PREFIX)
