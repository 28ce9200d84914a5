"""The values of the ingestion pipeline: what its steps pass on (`Draft`), where raw bytes came
from (`Origin`), and what became of them (`IngestOutcome`).

`app.ingest.pipeline` is the flow (the steps, the transaction, quarantine); these are the
frozen values that flow through it, and the pipeline still exports them to its callers.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain import MessageKind, NoiseVerdict, ParsedMessage
from app.ingest.followups import FollowupMatch
from app.models import InboundMessage


@dataclass(frozen=True)
class IngestOutcome:
    """What became of one raw message."""

    kind: MessageKind
    message_id: str
    ticket_id: int | None
    duplicate: bool
    error: str | None


@dataclass(frozen=True)
class Origin:
    """Where raw bytes came from: the source, and for IMAP the folder, UIDVALIDITY and UID."""

    source: str
    mailbox: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None

    def columns(self) -> dict[str, object]:
        """The InboundMessage columns that record the origin."""
        return {"source": self.source, "mailbox": self.mailbox,
                "uidvalidity": self.uidvalidity, "uid": self.uid}


@dataclass(frozen=True)
class Draft:
    """The pipeline's state for one message, replaced (never changed) by each step."""

    raw: bytes
    origin: Origin
    parsed: ParsedMessage | None = None
    stored: InboundMessage | None = None  # set when the message is already stored
    has_cpr: bool = False
    noise: NoiseVerdict | None = None
    followup: FollowupMatch | None = None
