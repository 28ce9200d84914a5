"""Decoding mail headers: RFC 2047 words, 8-bit raw bytes, addresses, Message-IDs and dates.

The parser reads mail with `email.policy.compat32`, which leaves header values raw; this
module turns them into text. Addresses are split *before* encoded words are decoded, so an
encoded word smuggled into an addr-spec (`=?utf-8?Q?ceo=40victim?=@attacker`) stays literal
instead of turning into another address.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header
from email.utils import getaddresses, parsedate_to_datetime

from app.ingest.charsets import decode_bytes

ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?]*\?=")  # spaces inside: seen in real mail
# Adjacent encoded words are decoded together: a writer's program may split one UTF-8
# character over two words ("=?utf-8?Q?p=C3?= =?utf-8?Q?=A5?=" is "på").
ENCODED_RUN = re.compile(rf"{ENCODED_WORD.pattern}(?:[ \t]*{ENCODED_WORD.pattern})*")
FOLD = re.compile(r"\r\n|\r|\n")
MSGID = re.compile(r"<([^<>]*)>")

# Headers seen glued to the end of the previous header's value ("+0200Received: from ...").
GLUED = re.compile(
    rb"(?<=[0-9)>\]])(?=(?:Received|Date|From|To|Cc|Subject|Message-ID|Return-Path|"
    rb"MIME-Version|Content-Type|Content-Transfer-Encoding|Reply-To|In-Reply-To|References)"
    rb": )"
)


def decode_raw(value: str) -> tuple[str, list[str]]:
    """Turn a raw compat32 header value into text: unfold, 8-bit bytes, RFC 2047 words."""
    defects: list[str] = []
    text = FOLD.sub("", value)
    if not text.isascii():
        # compat32 keeps undecodable 8-bit header bytes as surrogate escapes.
        data = text.encode("utf-8", "surrogateescape")
        text, note = decode_bytes(data, None)
        if note:
            defects.append(f"8-bit header: {note}")
    if "=?" in text:
        text = _decode_words(text, defects)
    return text.strip(), defects


def _decode_words(text: str, defects: list[str]) -> str:
    """Replace each run of RFC 2047 encoded words by its text (joined without spaces)."""

    def word(match: re.Match[str]) -> str:
        """One run of encoded words as text, through our charset fallbacks (bogus labels too)."""
        try:
            parts = decode_header(match.group(0))
        except (HeaderParseError, ValueError):
            defects.append(f"undecodable encoded word {match.group(0)[:40]}")
            return match.group(0)
        out = []
        for chunk, charset in parts:
            if isinstance(chunk, str):
                out.append(chunk)
                continue
            decoded, note = decode_bytes(chunk, charset)
            if note:
                defects.append(f"encoded word: {note}")
            out.append(decoded)
        return "".join(out)

    return ENCODED_RUN.sub(word, text)


def decode_addresses(raw_values: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs from raw address headers."""
    unfolded = [FOLD.sub("", value) for value in raw_values]
    pairs = []
    for name, addr in getaddresses(unfolded):
        if not addr and not name:
            continue
        decoded_name, _ = decode_raw(name) if name else ("", [])
        address, _ = decode_raw(addr) if not addr.isascii() else (addr, [])
        pairs.append((decoded_name, address.strip().lower()))
    return pairs


def message_ids(value: str | None) -> tuple[str, ...]:
    """Message-IDs in a header, without angle brackets; bare ids are accepted too."""
    if not value:
        return ()
    found = [m.strip() for m in MSGID.findall(value)]
    if not found:
        found = [token.strip("<>,;") for token in value.split()]
    return tuple(dict.fromkeys(m for m in found if m))


def parse_date(value: str | None) -> tuple[datetime | None, str | None]:
    """The Date header as an aware datetime (UTC when the zone is unknown), and a defect."""
    if not value:
        return None, None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, f"unparseable Date {value[:60]!r}"
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC), "Date without time zone read as UTC"
    return moment, None


def repair_glued_headers(header_block: bytes) -> tuple[bytes, bool]:
    """Put a line break before a known header glued to the previous value; True if repaired."""
    if GLUED.search(header_block) is None:
        return header_block, False
    lines = header_block.split(b"\n")
    for index, line in enumerate(lines):
        # Only a header line's value can hide a glued header; keep the line's own name.
        colon = line.find(b":")
        if colon > 0 and not line[:1].isspace():
            lines[index] = line[: colon + 1] + GLUED.sub(b"\n", line[colon + 1 :])
    return b"\n".join(lines), True
