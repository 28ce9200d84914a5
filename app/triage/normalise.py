"""Danish text made comparable: one spelling of æ/ø/å, stems, and the text a rule or model reads.

Caseworkers write "hænger" and "haenger", "afgørelse" and "afgoerelse", "på" and "paa" in the
same week. Everything the rules and the model read goes through `fold`, which lowers the text
and writes æ/ø/å (and ä/ö/é…) as ae/oe/aa, so both spellings meet. Words are stemmed with
Snowball's Danish stemmer *before* folding, because the stemmer knows the Danish letters.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

# Enough of a mail to decide on; long pasted logs only slow the classifier down.
MAX_TEXT_CHARS = 4000
MAX_SUBJECT_CHARS = 500
_REPLY_PREFIX = re.compile(r"^\s*((re|sv|vs|fw|fwd|aw|videresendt)\s*:\s*)+", re.IGNORECASE)

_FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe", "ü": "ue"})
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*|\d+", re.UNICODE)
_SPACE = re.compile(r"\s+")
_URL = re.compile(r"https?://\S+|www\.\S+|\S+@\S+")
_STEMMER = snowballstemmer.stemmer("danish")


def fold(text: str) -> str:
    """Lower-case `text`, spell æ/ø/å as ae/oe/aa, drop other accents, collapse whitespace."""
    lowered = (text or "").lower().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", lowered)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACE.sub(" ", plain).strip()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The folded Snowball stem of one lower-case word (cached: mail repeats its words)."""
    return fold(_STEMMER.stemWord(word))


def words(text: str) -> list[str]:
    """The lower-case words of `text`, links and addresses left out."""
    return _WORD.findall(_URL.sub(" ", (text or "").lower()))


def stems(text: str) -> list[str]:
    """The folded stems of the words in `text`, in order."""
    return [stem(word) for word in words(text)]


def classifier_text(subject: str, text: str) -> str:
    """What the classifier reads: the subject (twice, it says most) and the start of the new text.

    Reply prefixes are dropped from the subject, since they say nothing about the request.
    """
    subject = _REPLY_PREFIX.sub("", (subject or "")[:MAX_SUBJECT_CHARS])
    body = (text or "")[:MAX_TEXT_CHARS]
    return f"{subject}\n{subject}\n{body}"
