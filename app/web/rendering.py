"""Showing mail safely: HTML only after nh3, attachments only as downloads.

Mail is shown as text first. HTML parts are cleaned with nh3 (an allow-list: no scripts, event
handlers, styles, forms, images or frames; links only http/https/mailto, with rel noopener
noreferrer); the CSP forbids inline script and remote images besides.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

import nh3
from markupsafe import Markup

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong",
    "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
_SCHEMES = {"http", "https", "mailto"}
_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}

# Types a browser shows as data, never runs; anything else is sent as octet-stream.
_SAFE_TYPES = {
    "application/pdf", "image/png", "image/jpeg", "image/gif", "text/plain", "text/csv",
    "application/zip", "application/msword", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "message/rfc822",
}


def clean_html(html: str | None) -> Markup:
    """Mail HTML made inert, ready to place in a page."""
    if not html:
        return Markup("")
    cleaned = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=_absolute_links_only,
    )
    return Markup(cleaned)  # safe: this is nh3's sanitised output, not the raw mail


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    """Drop a link without a scheme of its own.

    nh3 lets relative links through, and in our page `/login?next=…` or `//host/x` would look
    like the application's own links (a mail has no base a relative link could mean).
    """
    if tag == "a" and attribute == "href":
        return value if urlsplit(value.strip()).scheme.lower() in _SCHEMES else None
    return value


def download_type(content_type: str | None) -> str:
    """The content type an attachment is served with: allow-listed, else octet-stream."""
    value = (content_type or "").split(";", 1)[0].strip().lower()
    return value if value in _SAFE_TYPES else "application/octet-stream"


def download_name(filename: str | None) -> str:
    """A file name without paths, control characters or leading dots (RFC 6266 filename*)."""
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"*?|;]', "_", name)  # characters that mean something to a shell or OS
    name = name.strip().lstrip(".").strip()
    return name[:150] or "bilag"
