"""Text of a mail as triage reads it: HTML to text, subjects for threading, the new text.

`extract_new_text` and `quoted_text` split a body into what the writer wrote this time and
what they quoted (the rules live in `app.ingest.quotes`); `normalise_subject` strips reply
and forward prefixes and ticket tags so a reply's subject can be matched to its ticket.
"""

from __future__ import annotations

import re
import textwrap

from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from lxml import html as lxml_html
from lxml.etree import LxmlError

from app.ingest.quotes import split_reply

_CONFIG = ParserConfig(display_links=False, display_images=False)
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
TRAILING_SPACE = re.compile(r"[ \t\u00a0]+$", re.MULTILINE)
BLANK_RUNS = re.compile(r"\n{3,}")

# Reply/forward prefixes in the languages our writers' mail programs use, optionally counted
# ("Re[2]:", "AW(3):"), and bracketed tags a gateway puts in front ("[EXT]", "[Ekstern]").
PREFIX = re.compile(
    r"^\s*(?:(?:re|sv|vs|aw|wg|fwd?|videresendt|antw|tr|rif|odp|vl)\s*(?:\[\d+\]|\(\d+\))?"
    r"\s*[:：]|\[[^\]]{0,40}\])\s*",
    re.IGNORECASE,
)
TICKET_TAG = re.compile(r"\[\s*[A-Za-z][A-Za-z0-9]*-\d+\s*\]")


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body (inscriptis keeps tables and lists legible)."""
    if not html.strip():
        return ""
    # lxml refuses str input that carries an XML encoding declaration.
    source = XML_DECLARATION.sub("", html)
    try:
        text = get_text(source, _CONFIG)
    except (LxmlError, ValueError):
        try:
            text = lxml_html.fromstring(source).text_content()
        except (LxmlError, ValueError):
            text = re.sub(r"<[^>]+>", " ", source)
    # inscriptis indents by the page's layout; the writer's words need no margin.
    text = textwrap.dedent(TRAILING_SPACE.sub("", text))
    return BLANK_RUNS.sub("\n\n", text).strip()


def normalise_subject(subject: str) -> str:
    """The subject without reply/forward prefixes, gateway tags and ticket tags, folded."""
    text = TICKET_TAG.sub(" ", subject)
    previous = None
    while previous != text:
        previous = text
        text = PREFIX.sub("", text)
    return " ".join(text.split())


def extract_new_text(text: str) -> str:
    """What the writer wrote this time: no quote, signature, mobile footer or disclaimer.

    Never empty when `text` has words: if stripping would leave nothing, `text` is returned.
    """
    new, _ = split_reply(text)
    return new if new.strip() else text.strip()


def quoted_text(text: str) -> str:
    """The quoted part of a reply: what `extract_new_text` removed as the quote."""
    return split_reply(text)[1]
