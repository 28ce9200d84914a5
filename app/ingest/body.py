"""Walking a parsed mail's MIME tree: body text, HTML, attachments and inline images.

The tree comes from `email.policy.compat32`, which keeps Outlook's unquoted
`----=_NextPart` boundaries whole (the default policy cuts them at the `=` and loses the
body). Each text part is decoded once, through `app.ingest.charsets`; nothing is dropped:
what is not body text becomes an `Attachment`, and the text of a nested message/rfc822 is
kept below a header block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from app.domain import Attachment
from app.ingest.charsets import decode_bytes
from app.ingest.headers import decode_raw
from app.ingest.text import html_to_text

BODY_TYPES = ("text/plain", "text/html")
NEWLINES = re.compile(r"\r\n?")


@dataclass
class Body:
    """What the walk collects; turned into ParsedMessage fields by the parser."""

    texts: list[str] = field(default_factory=list)
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    spare_texts: list[str] = field(default_factory=list)  # text/* attachments, a last resort
    defects: list[str] = field(default_factory=list)
    # Inside an alternative the HTML is only rendered when the plain version has no words:
    # rendering is the slowest step of parsing, so it is done only when it is needed.
    render_html: bool = True
    pending_html: list[str] = field(default_factory=list)


def collect_body(msg: Message) -> Body:
    """Walk the whole tree of `msg` and collect its text, HTML and attachments."""
    body = Body()
    _walk(msg, body)
    return body


def _walk(part: Message, body: Body) -> None:
    """Dispatch one part by its kind: container, nested message, alternative or leaf."""
    ctype = part.get_content_type()
    body.defects.extend(type(defect).__name__ for defect in part.defects)
    if part.is_multipart():
        # Only containers' payloads are read raw: a leaf's get_payload() decodes with the
        # declared charset and raises on a bogus one; leaves are read with decode=True.
        payload = part.get_payload()
        children: list[Message] = [child for child in payload if isinstance(child, Message)]
        if ctype == "message/delivery-status":
            # compat32 splits a DSN into one Message per status block; keep it whole.
            _status_report(part, children, body)
        elif ctype.startswith("message/"):
            _walk_nested(children, body)
        elif ctype == "multipart/alternative":
            _walk_alternative(children, body)
        else:
            for child in children:
                _walk(child, body)
        return
    if ctype.startswith("multipart/"):
        # A multipart whose boundary is missing or broken: its raw payload is all we have.
        body.defects.append(f"{ctype} without parts read as text")
        ctype = "text/plain"
    _leaf(part, ctype, body)


def _walk_nested(payload: list[Message], body: Body) -> None:
    """Keep a nested message's text below the headers a reader needs to place it."""
    for inner in payload:
        # Shown to Danish readers, and recognised as the start of a quote by `quotes`.
        lines = ["-----Oprindelig meddelelse-----"]
        wanted = {"from": "Fra", "date": "Sendt", "subject": "Emne"}
        for name, value in inner.raw_items():
            label = wanted.pop(name.lower(), None)
            if label is not None:
                lines.append(f"{label}: {decode_raw(str(value))[0]}")
        body.texts.append("\n".join(lines))
        _walk(inner, body)


def _status_report(part: Message, blocks: list[Message], body: Body) -> None:
    """A message/delivery-status part, kept as one attachment of its raw status blocks."""
    data = b"\n".join(_block_bytes(block) for block in blocks)
    body.attachments.append(
        Attachment(filename=_filename(part), content_type="message/delivery-status", data=data)
    )


def _block_bytes(block: Message) -> bytes:
    """The header lines of one DSN status block, as raw bytes."""
    return "".join(f"{name}: {value}\n" for name, value in block.raw_items()).encode(
        "utf-8", "surrogateescape"
    )


def _walk_alternative(children: list[Message], body: Body) -> None:
    """Take the plain version as body text when it has words, the richest one otherwise."""
    rendered: list[tuple[Message, Body]] = []
    for child in children:
        sub = Body(render_html=False)
        _walk(child, sub)
        rendered.append((child, sub))
        body.attachments.extend(sub.attachments)
        body.defects.extend(sub.defects)
        body.spare_texts.extend(sub.spare_texts)
        if body.html is None and sub.html is not None:
            body.html = sub.html
    plain = [s for c, s in rendered if _is_plain(c) and any(t.strip() for t in s.texts)]
    if plain:
        body.texts.extend(plain[0].texts)
        return
    for _, sub in reversed(rendered):
        texts = sub.texts + [html_to_text(html) for html in sub.pending_html]
        if any(t.strip() for t in texts):
            body.texts.extend(texts)
            return


def _is_plain(part: Message) -> bool:
    """True when a part is, or begins with, a text/plain body."""
    while part.is_multipart():
        payload = part.get_payload()
        first = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(first, Message):
            break
        part = first
    return part.get_content_type() == "text/plain"


def _leaf(part: Message, ctype: str, body: Body) -> None:
    """A part with content: body text, or an attachment (text/* attachments kept in reserve)."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = b""
    disposition = part.get_content_disposition()
    filename = _filename(part)
    if ctype in BODY_TYPES and disposition != "attachment":
        text = _decode_text(part, data, body)
        if ctype == "text/html":
            if body.html is None:
                body.html = text
            if not body.render_html:
                body.pending_html.append(text)
                return
            text = html_to_text(text)
        body.texts.append(text)
        return
    if ctype.startswith("text/") and data.strip():
        text = _decode_text(part, data, body)
        body.spare_texts.append(html_to_text(text) if ctype == "text/html" else text)
    content_id = part.get("Content-ID")
    body.attachments.append(
        Attachment(
            filename=filename,
            content_type=ctype,
            data=data,
            inline=disposition == "inline" or (disposition is None and content_id is not None),
            content_id=str(content_id).strip().strip("<>") if content_id else None,
        )
    )


def _decode_text(part: Message, data: bytes, body: Body) -> str:
    """A text part's bytes as text with line endings made \\n."""
    text, note = decode_bytes(data, part.get_content_charset())
    if note:
        body.defects.append(note)
    return NEWLINES.sub("\n", text)


def _filename(part: Message) -> str:
    """The part's file name, RFC 2231 and RFC 2047 decoded; "" when it has none."""
    try:
        name = part.get_filename()
    except (ValueError, LookupError, TypeError):
        name = None
    if not name:
        return ""
    return decode_raw(name)[0]
