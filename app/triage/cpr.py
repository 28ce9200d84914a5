"""Danish CPR numbers: find them in text and mask them before mail leaves the municipality.

A CPR number is `ddmmyy-xxxx` or `ddmmyyxxxx` whose first six digits are a valid date. There is
no modulus-11 check: numbers issued since 2007 need not pass it. The separator may also be a
space, a no-break space or a typographic dash (word processors and PDFs turn `-` into `–` or
U+2011): `ddmmyy xxxx` is how many people write it, and a missed number leaves the municipality. What is left alone on purpose:
8-digit CVR numbers, phone numbers (`72 34 61 27`, `+45 23614890`), numbers already masked
(`140612-XXXX`), dates, longer digit runs, `NC-123456` case numbers and hex correlation ids.
"""

from __future__ import annotations

import re
from datetime import date

# Not glued to a word or digit on either side, not one dash-separated piece of a longer id
# (a UUID or correlation id like "a41c9e2f-0812-4b7e"), and not a value inside a URL
# ("?t=1712919612" is a Unix time whose first six digits happen to be a date).
_DASHES = "\\-\u2010-\u2015\u2212"
_CPR = re.compile(
    rf"(?<![\w=/&?%#])(?<![0-9A-Fa-f][{_DASHES}])"
    rf"(?P<dd>\d{{2}})(?P<mm>\d{{2}})(?P<yy>\d{{2}})(?P<sep>[{_DASHES} \u00a0]?)(?P<serial>\d{{4}})"
    rf"(?![\w])(?![{_DASHES}][0-9A-Fa-f])"
)


def _valid_date(dd: str, mm: str, yy: str) -> bool:
    """True when ddmmyy is a real date in one of the centuries a CPR number can name."""
    for century in (1900, 2000, 1800):
        try:
            date(century + int(yy), int(mm), int(dd))
        except ValueError:
            continue
        return True
    return False


def _matches(text: str) -> list[re.Match[str]]:
    """Every CPR-shaped match in `text` with a valid date."""
    return [m for m in _CPR.finditer(text or "") if _valid_date(m["dd"], m["mm"], m["yy"])]


def find_cpr(text: str) -> list[str]:
    """The CPR numbers in `text`, as written, in order of appearance."""
    return [m.group(0) for m in _matches(text)]


def contains_cpr(text: str) -> bool:
    """True when `text` holds at least one CPR number."""
    return bool(_matches(text))


def mask_cpr(text: str) -> str:
    """Replace the serial part of every CPR number with XXXX: `140612-4387` → `140612-XXXX`."""
    if not text:
        return text
    matches = _matches(text)
    if not matches:
        return text
    parts: list[str] = []
    last = 0
    for m in matches:
        parts.append(text[last : m.start()])
        parts.append(f"{m['dd']}{m['mm']}{m['yy']}-XXXX")
        last = m.end()
    parts.append(text[last:])
    return "".join(parts)
