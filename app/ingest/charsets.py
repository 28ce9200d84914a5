"""Turning the bytes of a mail part or header into text without losing any of it.

Mail in the wild declares charsets that do not exist (`iso-gb2312`, `x-unknown`), labels UTF-8
bytes as iso-2022-jp or latin-1, and sends 8-bit headers with no label at all. The order tried
is: the declared charset (through a table of aliases), UTF-8, windows-1252, and a guess by
charset-normalizer where nothing else fits. Every departure from the label is reported, so the
parser can record it in `ParsedMessage.defects`.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

from charset_normalizer import from_bytes

# Names seen in real mail that Python does not know, or knows as a smaller charset than the
# senders meant (gb2312 mail routinely holds gbk/gb18030 characters; iso-8859-1 mail from
# Windows holds windows-1252 punctuation such as quotes and dashes in 0x80-0x9f).
ALIASES: dict[str, str] = {
    "iso-gb2312": "gb18030",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "windows-874": "cp874",
    "x-mac-roman": "mac-roman",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
}

# Labels that say "we do not know": the bytes must be guessed.
UNKNOWN_LABELS = frozenset(
    {"unknown-8bit", "x-unknown", "unknown", "x-user-defined", "invalid-charset", "default"}
)

# Single-byte charsets: a part that is valid UTF-8 (with non-ASCII bytes) but labelled with
# one of these was almost certainly written in UTF-8 (UTF-8 is very unlikely by chance).
SINGLE_BYTE = frozenset({"cp1252", "iso8859-15", "iso8859-2", "cp1250", "latin-1", "ascii"})


@lru_cache(maxsize=256)
def resolve_charset(label: str | None) -> str | None:
    """The Python codec name for a declared charset label, or None when it is unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if not name or name in UNKNOWN_LABELS:
        return None
    name = ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a NUL byte in the label
        return None


def _try(data: bytes, codec: str) -> str | None:
    """Strictly decode `data`, or None when the bytes do not fit the codec."""
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


# charset-normalizer's guesses among the Latin charsets are unreliable on short text; for
# those the Windows charset that Outlook writes is the better reading.
LATIN_GUESSES = ("cp125", "latin", "iso8859", "mac_", "cp850", "cp437", "hp_roman", "ptcp")


def _guess(data: bytes) -> str | None:
    """charset-normalizer's best reading of `data` when it is not a Latin one, else None."""
    best = from_bytes(data).best()
    if best is None or best.encoding.startswith(LATIN_GUESSES):
        return None
    return str(best)


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode `data` declared as `label`; return the text and a defect note (None if clean)."""
    if data.isascii():
        # Most parts are plain ASCII; but utf-7 and iso-2022-* are ASCII-armoured encodings.
        codec = resolve_charset(label)
        if codec in (None, "cp1252", "utf-8", "ascii") or codec.startswith("iso8859"):
            return data.decode("ascii"), None
        text = _try(data, codec)
        return (text, None) if text is not None else (data.decode("ascii"), f"bad {label} text")
    codec = resolve_charset(label)
    if codec is not None and codec != "utf-8":
        if codec in SINGLE_BYTE or codec.startswith("iso8859"):
            as_utf8 = _try(data, "utf-8")
            if as_utf8 is not None:
                return as_utf8, f"charset {label} was UTF-8"
        text = _try(data, codec)
        if text is not None:
            return text, None
    text = _try(data, "utf-8")
    if text is not None:
        return text, None if codec == "utf-8" else f"charset {label or 'none'} read as UTF-8"
    return _fallback(data, label, codec)


def _windows_1252_bytes(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: read the bytes UTF-8 rejects as windows-1252 (latin-1 if undefined)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    text = "".join(_try(bytes([byte]), "cp1252") or chr(byte) for byte in bad)
    return text, error.end


codecs.register_error("dubu-windows-1252", _windows_1252_bytes)
UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
MOSTLY_UTF8 = 0.5  # share of the non-ASCII bytes that form valid UTF-8 sequences


def _mixed_utf8(data: bytes) -> str | None:
    """Mostly-UTF-8 text with some windows-1252 bytes pasted in (a quote from an old mail)."""
    high = sum(1 for byte in data if byte >= 0x80)
    valid = sum(len(m) for m in UTF8_SEQUENCE.findall(data))
    if not high or valid / high < MOSTLY_UTF8:
        return None
    return data.decode("utf-8", errors="dubu-windows-1252")


def _fallback(data: bytes, label: str | None, codec: str | None) -> tuple[str, str]:
    """Neither the label nor UTF-8 fit: mixed UTF-8, windows-1252 for western mail, a guess."""
    mixed = _mixed_utf8(data)
    if mixed is not None:
        return mixed, f"charset {label or 'none'} read as UTF-8 mixed with windows-1252"
    western = codec is None or codec in SINGLE_BYTE or codec.startswith("iso8859")
    if western and codec is not None:
        text = _try(data, "cp1252")
        if text is not None:
            return text, f"charset {label} read as windows-1252"
    guess = _guess(data) if len(data) >= 16 or not western else None
    if guess is not None:
        return guess, f"charset {label or 'none'} guessed"
    text = _try(data, "cp1252")
    if text is not None:
        return text, f"charset {label or 'none'} read as windows-1252"
    if codec is not None and not western:
        return data.decode(codec, errors="replace"), f"charset {label} partly undecodable"
    # Nothing fits cleanly: latin-1 maps every byte to a character, so nothing is dropped.
    return data.decode("latin-1"), f"charset {label or 'none'} read as latin-1"
