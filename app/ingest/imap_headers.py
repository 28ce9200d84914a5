"""A mail header rebuilt from IMAP ENVELOPE, for mail whose header itself cannot be fetched.

When a server refuses even BODY.PEEK[HEADER], the parsed ENVELOPE still names the sender,
recipients, subject and Message-ID: enough for a person to recognise the mail in quarantine.
"""

from __future__ import annotations

from email.utils import format_datetime

from imapclient.response_types import Address, Envelope


def _address(address: Address) -> bytes:
    """One ENVELOPE address as header text (a group name alone when it has no host)."""
    addr = address.mailbox or b""
    if address.host:
        addr = addr + b"@" + address.host
        return address.name + b" <" + addr + b">" if address.name else addr
    return addr


def envelope_header(envelope: Envelope) -> bytes:
    """A header rebuilt from ENVELOPE: the fields a person needs to recognise the mail."""
    lines = [b"Date: " + format_datetime(envelope.date).encode()] if envelope.date else []
    for name, value in ((b"Subject", envelope.subject), (b"Message-ID", envelope.message_id),
                        (b"In-Reply-To", envelope.in_reply_to)):
        if value:
            lines.append(name + b": " + value)
    for name, addresses in ((b"From", envelope.from_), (b"To", envelope.to),
                            (b"Cc", envelope.cc)):
        if addresses:
            lines.append(name + b": " + b", ".join(_address(a) for a in addresses))
    # The server's strings are quoted IMAP strings: no line breaks should be there, but a
    # header is rebuilt from them, so make sure.
    lines = [line.replace(b"\r", b" ").replace(b"\n", b" ") for line in lines]
    return b"\r\n".join(lines) + b"\r\n\r\n" if lines else b""
