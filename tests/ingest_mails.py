"""Building raw test mails for the ingestion tests, the way a mail client would write them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime


def make_mail(
    subject: str = "Jeg kan ikke gemme en handleplan",
    body: str = "Når jeg trykker gem på handleplanen får jeg en fejlbesked.\nHvad gør jeg?",
    sender: str = "anne.larsen@korsbaek.dk",
    *,
    to: str = "dubu@korsbaek.dk",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    date: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A plain-text mail as raw bytes; a fresh Message-ID unless one is given."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2024, 4, 15, 9, 30, tzinfo=UTC))
    msg["Message-ID"] = f"<{message_id or uuid.uuid4().hex + '@korsbaek.dk'}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def quote(text: str) -> str:
    """Text quoted the way a reply quotes it."""
    return "\n".join("> " + line for line in text.splitlines())
