"""Importing mail from files: folders of .eml files and mbox files, through the same pipeline.

A file is one message unless it is an mbox: named *.mbox / *.mbx, or (not named *.eml / *.msg)
starting with a "From " envelope line and holding more than one message. The raw bytes of a
single-message file are stored as they are, every byte of them. A folder is read recursively for *.eml files
and mbox files. An imported mail arrives at its Date header (so a history lands in its own weeks).
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from app.ingest.fetch import PollSummary
from app.ingest.pipeline import ingest_raw
from app.runtime import Runtime

MBOX_SUFFIXES = {".mbox", ".mbx"}
MESSAGE_SUFFIXES = {".eml", ".msg"}
# An mbox separator: a "From " line after an empty line (or at the very start).
_SEPARATOR = re.compile(rb"(?:\A|\n\r?\n)From [^\r\n]*\r?\n")

Progress = Callable[[int], None]


def is_mbox(path: Path) -> bool:
    """True for an mbox file: by name, or by holding more than one "From " separated message."""
    if path.suffix.lower() in MBOX_SUFFIXES:
        return True
    if path.suffix.lower() in MESSAGE_SUFFIXES:
        return False  # a saved message is one message, whatever "From " lines it holds
    with path.open("rb") as handle:
        if handle.read(5) != b"From ":
            return False
    data = path.read_bytes()
    return len(_SEPARATOR.findall(data)) > 1


def files_in(paths: Iterable[str | Path]) -> list[Path]:
    """The files to import: given files as they are, folders searched for .eml and mbox files."""
    found: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            found.extend(
                p for p in sorted(item.rglob("*"))
                if p.is_file() and p.suffix.lower() in MESSAGE_SUFFIXES | MBOX_SUFFIXES
            )
        else:
            found.append(item)
    return found


def raw_messages(path: Path) -> Iterator[bytes]:
    """The raw messages of one file (one, or each of an mbox)."""
    if not is_mbox(path):
        yield path.read_bytes()
        return
    box = mailbox.mbox(str(path), create=False)
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


def count_messages(paths: Iterable[Path]) -> int:
    """How many messages the files hold (for a progress bar's total)."""
    total = 0
    for path in paths:
        total += len(_SEPARATOR.findall(path.read_bytes())) if is_mbox(path) else 1
    return total


def import_paths(runtime: Runtime, paths: Iterable[str | Path],
                 progress: Progress | None = None) -> PollSummary:
    """Store every message in the files and folders; `progress(n)` after each n messages."""
    summary = PollSummary()
    for path in files_in(paths):
        for raw in raw_messages(path):
            summary.add(ingest_raw(runtime, raw, source="import"))
            if progress is not None:
                progress(1)
    return summary
