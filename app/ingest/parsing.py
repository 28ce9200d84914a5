"""Raw mail bytes to a `ParsedMessage`: the first pure step of the ingestion pipeline.

One parse per mail, with `email.policy.compat32` (about four times faster than the default
policy, and it keeps Outlook's unquoted `----=_NextPart` boundaries whole); headers, charsets
and the MIME tree are then decoded here and in `headers`, `charsets` and `body`, so that
bogus charsets, 8-bit headers, glued headers and broken boundaries lose nothing. Every
repair is named in `ParsedMessage.defects`.
"""

from __future__ import annotations

import re
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from hashlib import sha256

from app.domain import ParsedMessage
from app.errors import ParseError
from app.ingest.body import Body, collect_body
from app.ingest.charsets import decode_bytes
from app.ingest.headers import (
    decode_addresses,
    decode_raw,
    message_ids,
    parse_date,
    repair_glued_headers,
)
from app.ingest.text import extract_new_text

HEADER_END = re.compile(rb"\r\n\r\n|\n\n|\r\r|\n\r\n")
BLANK_RUNS = re.compile(r"\n{3,}")


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse one mail; raises ParseError only when there is nothing to parse at all."""
    if not raw or not raw.strip():
        raise ParseError("empty message")
    defects: list[str] = []
    msg = message_from_bytes(_repaired(raw, defects), policy=email_policy.compat32)
    headers, header_defects = _headers(msg)
    defects.extend(header_defects)
    body = _body(msg, raw)
    defects.extend(body.defects)
    text = _text(body, defects)
    return _assemble(raw, msg, headers, body, text, defects)


def _body(msg: Message, raw: bytes) -> Body:
    """The walked body; should the walk itself fail, the raw body as text, so nothing is lost.

    The standard library's MIME classes raise on some malformed parameters (an RFC 2231
    charset where a name was expected, for one); a caseworker's mail must never be lost to
    that, so the failure is recorded and the text below the headers is kept as it is.
    """
    try:
        return collect_body(msg)
    except Exception as error:  # noqa: BLE001 - see the docstring
        end = HEADER_END.search(raw)
        text, _ = decode_bytes(raw[end.end() :] if end else raw, None)
        return Body(texts=[text], defects=[f"MIME walk failed ({error!r}); raw body kept"])


def _repaired(raw: bytes, defects: list[str]) -> bytes:
    """The raw mail with headers glued onto the previous line split apart."""
    end = HEADER_END.search(raw)
    split = end.start() if end else len(raw)
    block, repaired = repair_glued_headers(raw[:split])
    if not repaired:
        return raw
    defects.append("header glued to the previous one split")
    return block + raw[split:]


def _headers(msg: Message) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """Every header in order, decoded, with what decoding had to repair."""
    decoded: list[tuple[str, str]] = []
    defects: list[str] = []
    for name, value in msg.raw_items():
        text, notes = decode_raw(str(value))
        decoded.append((name, text))
        defects.extend(f"{name}: {note}" for note in notes)
    return tuple(decoded), defects


def _text(body: Body, defects: list[str]) -> str:
    """The body text; text/* attachments stand in when the mail has no body text at all."""
    text = "\n\n".join(t.strip("\n") for t in body.texts if t.strip())
    if not text.strip() and body.spare_texts:
        defects.append("body text taken from a text attachment")
        text = "\n\n".join(t.strip("\n") for t in body.spare_texts)
    return BLANK_RUNS.sub("\n\n", text).strip()


def _raw_values(msg: Message, name: str) -> list[str]:
    """The raw values of every header called `name`."""
    return [str(value) for value in (msg.get_all(name) or [])]


def _first(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    """The first decoded header called `name`."""
    lname = name.lower()
    return next((value for key, value in headers if key.lower() == lname), None)


def _assemble(
    raw: bytes,
    msg: Message,
    headers: tuple[tuple[str, str], ...],
    body: Body,
    text: str,
    defects: list[str],
) -> ParsedMessage:
    """Build the ParsedMessage from the decoded pieces."""
    ids = message_ids(_first(headers, "Message-ID"))
    message_id = ids[0] if ids else f"{sha256(raw).hexdigest()}@sha256.invalid"
    senders = decode_addresses(_raw_values(msg, "From"))
    from_name, from_addr = senders[0] if senders else ("", "")
    date, date_defect = parse_date(_first(headers, "Date"))
    if date_defect:
        defects.append(date_defect)
    return ParsedMessage(
        message_id=message_id,
        subject=_first(headers, "Subject") or "",
        from_addr=from_addr,
        from_name=from_name,
        to_addrs=tuple(a for _, a in decode_addresses(_raw_values(msg, "To")) if a),
        cc_addrs=tuple(a for _, a in decode_addresses(_raw_values(msg, "Cc")) if a),
        date=date,
        in_reply_to=message_ids(_first(headers, "In-Reply-To")),
        references=message_ids(" ".join(v for k, v in headers if k.lower() == "references")),
        headers=headers,
        text=text,
        new_text=extract_new_text(text),
        html=body.html,
        attachments=tuple(body.attachments),
        content_type=msg.get_content_type(),
        defects=tuple(dict.fromkeys(defects)),
    )
