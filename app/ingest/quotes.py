"""Splitting a mail body into the writer's new words and what they quoted.

Recognised, in Danish and English (and the German/French forms Outlook and phones produce):
"> " quoted lines, Outlook's "-----Oprindelig meddelelse-----" and "Fra: … Sendt: … Til: …"
header blocks, "Den 3. apr. 2024 kl. 10.12 skrev X:" / "On … wrote:" attributions; then, in
what remains, "-- " signatures, closings ("Med venlig hilsen", "Mvh" …) followed by a short
name/title block, mobile footers ("Sendt fra min iPhone") and legal disclaimers.
"""

from __future__ import annotations

import re

SEPARATOR = re.compile(
    r"^\s*[-_=*]{2,}\s*(?:oprindelig meddelelse|original message|videresendt meddelelse|"
    r"videresendt besked|forwarded message|ursprüngliche nachricht|message d'origine|"
    r"weitergeleitete nachricht)\s*[-_=*]{2,}\s*$|^\s*(?:begin forwarded message|"
    r"start på videresendt besked|videresendt besked)\s*:\s*$",
    re.IGNORECASE,
)
# Outlook's rule above the header block of the mail it answers.
UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
HEADER_FROM = re.compile(r"^\s*\**(?:fra|from|von|de|van)\s*:\**\s*\S", re.IGNORECASE)
HEADER_OTHER = re.compile(
    r"^\s*\**(?:sendt|sent|dato|date|gesendet|envoyé|til|to|an|à|emne|subject|betreff|objet|"
    r"cc)\s*:",
    re.IGNORECASE,
)
ATTRIBUTION = re.compile(
    r"^\s*(?:(?:den|d\.|on|am|le|el|op)\s.{4,200}?\s(?:skrev|wrote|schrieb|a écrit|escribió|"
    r"schreef)(?:\s.{1,120}?)?|.{1,120}\s(?:skrev|wrote|schrieb)\s*(?:følgende)?)\s*:\s*$",
    re.IGNORECASE,
)
ATTRIBUTION_START = re.compile(r"^\s*(?:den|on|am|le|el|op)\s", re.IGNORECASE)
QUOTED = re.compile(r"^\s*>")

# "-- " on its own line (RFC 3676), or "--Geoff Maciolek" as many people sign.
SIGNATURE_DASHES = re.compile(r"^\s*--\s*(?:[A-ZÆØÅ][\w.'-]*(?: [A-ZÆØÅ][\w.'-]*){0,3}\s*)?$")
MOBILE = re.compile(
    r"^\s*(?:sendt fra min|sent from my|hent outlook til|get outlook for|sendt fra outlook|"
    r"sent from outlook|sendt fra mail til|sent from mail for|sendt fra min mobil|"
    r"sendt fra samsung|sent from samsung|sent via|sendt via)\b",
    re.IGNORECASE,
)
DISCLAIMER = re.compile(
    r"^\s*(?:denne (?:e-?mail|mail|meddelelse|besked)(?: og (?:eventuelle|evt\.) "
    r"vedhæftede filer)? (?:kan indeholde|er fortrolig|indeholder)|this (?:e-?mail|message)"
    r"(?: and any attachments?)? (?:may contain|is confidential|contains|and its)|"
    r"the information (?:contained )?in this (?:e-?mail|message)|tænk på miljøet|"
    r"please consider the environment|think before you print|confidentiality notice|"
    r"fortrolighed\s*:|disclaimer\s*:|hvis du ikke er den rette modtager|"
    r".{0,60}\bbehandler (?:dine )?personoplysninger|læs (?:mere )?om,? hvordan vi behandler)",
    re.IGNORECASE,
)
CLOSING = re.compile(
    r"^\s*(?:med (?:venlig|venligst|de bedste) hilsen?|venlig(?:st)? hilsen|"
    r"de bedste hilsner|bedste hilsner|mange hilsner|kærlig hilsen|hilsen|"
    r"hilsner|mvh\.?|m\.v\.h\.?|vh\.?|best regards|kind regards|warm regards|regards|"
    r"with kind regards|yours sincerely|sincerely|cheers|many thanks|thanks and regards|"
    r"thanks(?: a lot| again)?|thank you|(?:mange |tusind |på forhånd )?tak|best(?=\s*,)|/)"
    r"(?:(?<=/)|\b)\s*[,.!]?(?:\s*(?P<name>[^\s,.!?:;]+(?:\s+[^\s,.!?:;]+){0,3}))?\s*$",
    re.IGNORECASE,
)
# A signature without a closing: a person's name (capitalised words), then short lines.
NAME_LINE = re.compile(
    r"^\s*[A-ZÆØÅ][a-zæøåäöüé'-]+(?:[ -](?:[A-ZÆØÅ][a-zæøåäöüé'-]+|[A-ZÆØÅ]\.)){0,3}\s*$"
)
NAME_BLOCK_MAX_LINES = 8
NAME_BLOCK_MAX_WIDTH = 60
SIGNATURE_MAX_LINES = 12
SIGNATURE_MAX_WIDTH = 90


def split_reply(text: str) -> tuple[str, str]:
    """(new text, quoted text) of a body; the new text is stripped of signature and footers."""
    lines = text.split("\n")
    cut = _quote_start(lines)
    head = lines[:cut]
    quoted = [_unquote(line) for line in head if QUOTED.match(line)]
    if quoted:
        head = _drop_quoted(head)
    tail = lines[cut:]
    quote = "\n".join(quoted + ([""] if quoted and tail else []) + tail).strip()
    new = "\n".join(_strip_signature(head)).strip()
    return new, quote


def _quote_start(lines: list[str]) -> int:
    """Index of the first line of the quoted original (len(lines) when there is none).

    An attribution followed by "> " lines is not a cut: the quote is marked line by line and
    the writer may answer between the quoted lines. Without markers, only the strong form
    ("Den … skrev X:", "On … wrote:") starts the quote; "Borgeren skrev:" may be the writer's
    own sentence.
    """
    for index, line in enumerate(lines):
        if not line.strip() or QUOTED.match(line):
            continue
        if SEPARATOR.match(line) or _is_header_block(lines, index):
            return index
        if UNDERSCORES.match(line) and HEADER_FROM.match(_next_filled(lines, index + 1)):
            return index
        strong = ATTRIBUTION_START.match(line) is not None
        span = _is_attribution(lines, index) if strong or line.rstrip().endswith(":") else 0
        if span and strong and not QUOTED.match(_next_filled(lines, index + span)):
            return index
    return len(lines)


def _next_filled(lines: list[str], start: int) -> str:
    """The first line from `start` on that is not blank ("" when there is none)."""
    return next((line for line in lines[start:] if line.strip()), "")


def _is_attribution(lines: list[str], index: int) -> int:
    """Lines (1-3) of a "… skrev:" / "… wrote:" attribution starting at `index`; 0 if none."""
    joined = ""
    for count, line in enumerate(lines[index : index + 3], start=1):
        joined = f"{joined} {line.strip()}".strip()
        if ATTRIBUTION.match(joined):
            return count if len(joined) <= 240 else 0
        if joined.endswith(":") or not line.strip():
            return 0
    return 0


def _is_header_block(lines: list[str], index: int) -> bool:
    """A "Fra:/From:" line followed closely by at least two more header lines."""
    if not HEADER_FROM.match(lines[index]):
        return False
    others = sum(1 for line in lines[index + 1 : index + 8] if HEADER_OTHER.match(line))
    return others >= 2


def _unquote(line: str) -> str:
    """A quoted line without its first "> " marker."""
    stripped = line.lstrip()[1:]
    return stripped.removeprefix(" ")


def _drop_quoted(head: list[str]) -> list[str]:
    """The unquoted lines of an interleaved reply, without the attribution above a quote."""
    kept: list[str] = []
    index = 0
    while index < len(head):
        line = head[index]
        span = 0 if QUOTED.match(line) or not line.strip() else _is_attribution(head, index)
        if span and QUOTED.match(_next_filled(head, index + span)):
            index += span
            continue
        if not QUOTED.match(line):
            kept.append(line)
        index += 1
    return kept


def _strip_signature(lines: list[str]) -> list[str]:
    """Cut the "-- " signature, footers and disclaimers, then a closing with its name block."""
    for index, line in enumerate(lines):
        if SIGNATURE_DASHES.match(line) or DISCLAIMER.match(line):
            lines = lines[:index]
            break
    lines = [line for line in lines if not MOBILE.match(line)]
    for index in range(len(lines) - 1, -1, -1):
        match = CLOSING.match(lines[index])
        if match and _looks_like_signature(lines[index + 1 :]):
            return lines[:index]
    # "Pia\n\nPia Lauridsen\nRådgiver": a short sign-off above the full name block.
    for _ in range(2):
        shorter = _strip_name_block(lines)
        if shorter == lines:
            break
        lines = shorter
    return lines


def _strip_name_block(lines: list[str]) -> list[str]:
    """Cut a trailing "Name Surname / title / phone" block that has no closing above it."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    for count, index in enumerate(reversed(filled), start=1):
        line = lines[index].strip()
        if count > NAME_BLOCK_MAX_LINES or len(line) > NAME_BLOCK_MAX_WIDTH:
            break
        if line.endswith(("?", ":")):
            break
        # A name starts its own paragraph, below at least one line of the message.
        named = NAME_LINE.match(line) and (" " in line or count == 1)
        if named and index > filled[0] and not lines[index - 1].strip():
            return lines[:index]
    return lines


def _looks_like_signature(rest: list[str]) -> bool:
    """A name/title block: few, short lines, none of them a sentence asking something."""
    filled = [line.strip() for line in rest if line.strip()]
    if len(filled) > SIGNATURE_MAX_LINES:
        return False
    return all(len(line) <= SIGNATURE_MAX_WIDTH and not line.endswith("?") for line in filled)
