"""Hand outbox rows to the SMTP server with Flask-Mail.

Flask-Mail needs an application context, so a minimal Flask app is built here, for the Mail
extension only; nothing else in the service depends on it, and nothing under app/ingest or
app/triage imports this module. One SMTP connection serves a whole batch and is opened lazily.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.charset import QP, Charset
from email.headerregistry import Address
from email.mime.text import MIMEText
from typing import Any, Protocol

from flask import Flask
from flask_mail import Connection, Mail, Message

from app.domain import LOOP_HEADER
from app.settings import Settings


@dataclass(frozen=True)
class OutgoingAttachment:
    """One file to attach, already read from its blob."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Outgoing:
    """Everything the sender needs of one outbox row; Message-IDs without angle brackets."""

    message_id: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    body_text: str
    body_html: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    extra_headers: tuple[tuple[str, str], ...]
    attachments: tuple[OutgoingAttachment, ...] = ()


class Sender(Protocol):
    """What the outbox needs of a sender: hand over one mail, raise if it was not accepted."""

    def send(self, mail: Outgoing) -> None:
        """Deliver `mail` to the SMTP server, or raise."""


class _TimedConnection(Connection):
    """Flask-Mail's connection with a timeout and a certificate-checking TLS context.

    Flask-Mail opens smtplib without a timeout (a dead server would hang the worker) and calls
    starttls() without a context (which does not verify the certificate).
    """

    def __init__(self, mail: Any, timeout: float) -> None:
        """Remember the timeout; Flask-Mail's state object carries the rest."""
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        """Connect, secure and log in as the settings say."""
        context = ssl.create_default_context()
        host: smtplib.SMTP
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(
                self.mail.server, self.mail.port, timeout=self.timeout, context=context
            )
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=self.timeout)
        try:
            if self.mail.use_tls:
                host.starttls(context=context)
            if self.mail.username and self.mail.password:
                host.login(self.mail.username, self.mail.password)
        except BaseException:
            host.close()  # a refused login or handshake must not leak the socket
            raise
        return host

    def close(self) -> None:
        """Say goodbye to the server; a connection that already broke is simply dropped."""
        if self.host is not None:
            try:
                self.host.quit()
            except (smtplib.SMTPException, OSError):
                self.host.close()
            self.host = None


class _Message(Message):
    """Flask-Mail's message with text parts in quoted-printable.

    Flask-Mail sends UTF-8 text as raw 8bit; a long paragraph (common in text made from HTML
    mail, which a forward carries) then breaks the 998-character line limit of RFC 5322.
    """

    def _mimetext(self, text: str | None, subtype: str = "plain") -> MIMEText:
        """A text part, UTF-8, quoted-printable."""
        charset = Charset("utf-8")
        charset.body_encoding = QP
        return MIMEText(text or "", _subtype=subtype, _charset=charset)  # type: ignore[arg-type]


def from_header(settings: Settings) -> str:
    """Our From address, the name quoted but not encoded.

    Flask-Mail joins a (name, address) pair unquoted, which breaks on the comma in
    "DUBU-support, Korsbæk Kommune"; and it encodes the name itself, so a name already
    encoded (formataddr) arrived as `=?utf-8?q?DUBU-support…?=`, encoded twice.
    """
    return str(Address(display_name=_one_line(settings.smtp.sender_name),
                       addr_spec=settings.smtp.sender))


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


def _one_line(value: str) -> str:
    """A header value without line breaks or other control characters.

    Message-IDs and file names come from mail strangers sent us (RFC 2047/2231 can encode a
    CR LF); the email package writes such a value as it is, which would start a new header.
    """
    return _CONTROL.sub(" ", value).strip()


def _mime_type(value: str) -> str:
    """An attachment's content type if it is one plain `type/subtype`, else octet-stream."""
    value = (value or "").strip().lower()
    return value if _MIME_TYPE.fullmatch(value) else "application/octet-stream"


def mail_app(settings: Settings) -> Flask:
    """A Flask app that exists only to carry Flask-Mail's configuration."""
    smtp = settings.smtp
    app = Flask("dubu_triage_mail")
    app.config.update(
        MAIL_SERVER=smtp.host,
        MAIL_PORT=smtp.port,
        MAIL_USE_TLS=smtp.security == "starttls",
        MAIL_USE_SSL=smtp.security == "ssl",
        MAIL_USERNAME=smtp.username or None,
        MAIL_PASSWORD=smtp.password or None,
        MAIL_DEFAULT_SENDER=from_header(settings),
        MAIL_SUPPRESS_SEND=False,
    )
    Mail(app)
    return app


def build_message(mail: Outgoing, settings: Settings) -> Message:
    """The Flask-Mail message for one row, with our Message-ID and threading headers."""
    headers = {name: _one_line(value) for name, value in mail.extra_headers}
    headers.setdefault(LOOP_HEADER, settings.mail_domain)
    if mail.in_reply_to:
        headers["In-Reply-To"] = f"<{_one_line(mail.in_reply_to)}>"
    if mail.references:
        headers["References"] = " ".join(f"<{_one_line(ref)}>" for ref in mail.references)
    message = _Message(
        subject=_one_line(mail.subject),
        recipients=list(mail.to),
        cc=list(mail.cc),
        body=mail.body_text,
        html=mail.body_html,
        sender=from_header(settings),
        extra_headers=headers,
    )
    message.msgId = f"<{mail.message_id}>"
    for item in mail.attachments:
        message.attach(_one_line(item.filename) or "bilag", _mime_type(item.content_type), item.data)
    return message


class SmtpSender:
    """Sends through one lazily opened SMTP connection, reopened after it breaks."""

    def __init__(self, settings: Settings, app: Flask) -> None:
        """Bind to the settings and the mail app (whose context must be pushed)."""
        self.settings = settings
        self.app = app
        self.connection: _TimedConnection | None = None

    def send(self, mail: Outgoing) -> None:
        """Deliver one mail; on any error the connection is dropped and the error raised."""
        message = build_message(mail, self.settings)
        try:
            if self.connection is None:
                state = self.app.extensions["mail"]
                connection = _TimedConnection(state, self.settings.smtp.timeout)
                connection.host = connection.configure_host()
                self.connection = connection
            self.connection.send(message)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        """Close the connection, if one is open."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@contextmanager
def open_sender(settings: Settings) -> Iterator[SmtpSender]:
    """A sender for one batch: the mail app's context pushed, the connection closed at the end."""
    app = mail_app(settings)
    with app.app_context():
        sender = SmtpSender(settings, app)
        try:
            yield sender
        finally:
            sender.close()


def refused_permanently(error: BaseException) -> bool:
    """True when the server refused every recipient for good (5xx): retrying cannot help."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes: Sequence[int] = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    return False
