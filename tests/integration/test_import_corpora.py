"""Importing all 1,444 real-world corpus mails (read from ../shared, never copied).

No exception escapes; every file becomes exactly one stored message, or is recognised as a
duplicate of a stored message with the same Message-ID; no stored message has an empty text
where the mail has text. The count per kind is printed (run with -s, or read the test output).
"""

from __future__ import annotations

import re
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from app.ingest.importer import import_paths
from app.ingest.parsing import parse_message
from app.ingest.store import storable_message_id
from app.models import Blob, InboundMessage

pytestmark = pytest.mark.slow
EXPECTED_FILES = 1444
NOT_MAIL = {".md", ".csv", ".yml"}


def corpus_files(corpora: Path) -> list[Path]:
    """Every raw mail of the external corpora: not dubu-dev, not docs, expectations or the
    original attachments of mail-mime-parser."""
    return sorted(
        p for p in corpora.rglob("*")
        if p.is_file() and p.suffix.lower() not in NOT_MAIL
        and p.relative_to(corpora).parts[0] != "dubu-dev"
        and "files" not in p.relative_to(corpora).parts[1:-1]
        and not (p.parent.name == "files" and p.parent.parent.name == "mail-mime-parser")
    )


def has_text(raw: bytes) -> bool:
    """True when some text part of the mail holds words (a plain reading by the stdlib)."""
    try:
        msg = message_from_bytes(raw, policy=policy.compat32)
    except Exception:  # noqa: BLE001 - then it has no text we could demand
        return False
    for part in msg.walk():
        if part.get_content_maintype() != "text" or part.get_filename():
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_content_subtype() == "html":
            payload = re.sub(rb"(?is)<(style|script|head)\b.*?</\1>|<[^>]*>|&nbsp;", b" ", payload)
        if re.search(rb"\w", payload):
            return True
    return False


def test_every_corpus_mail_imports_once_with_its_text(runtime, corpora: Path, capsys) -> None:
    files = corpus_files(corpora)
    assert len(files) == EXPECTED_FILES
    kinds: Counter[str] = Counter()
    duplicates: list[str] = []
    for path in files:
        summary = import_paths(runtime, [path])
        assert summary.fetched == 1, f"{path}: {summary}"
        if summary.duplicates:
            duplicates.append(str(path.relative_to(corpora)))
            # Only a mail with the Message-ID of one stored before counts as a duplicate.
            message_id = storable_message_id(parse_message(path.read_bytes()).message_id)
            with runtime.sessions() as session:
                assert session.scalars(select(InboundMessage.id).where(
                    InboundMessage.message_id == message_id)).first(), path
    with runtime.sessions() as session:
        stored = list(session.scalars(select(InboundMessage)))
        empty = [m.message_id for m in stored if not m.text.strip()
                 and has_text(session.get(Blob, m.raw_sha256).data)]
    kinds.update(m.kind for m in stored)
    assert len(stored) + len(duplicates) == EXPECTED_FILES
    with capsys.disabled():
        print(f"\ncorpora: {len(files)} files, {len(stored)} stored, {len(duplicates)} "
              f"duplicates of a stored Message-ID; per kind: {dict(sorted(kinds.items()))}")
        quarantined = [(m.message_id, (m.error or "")[:120]) for m in stored
                       if m.kind == "quarantined"]
        for item in quarantined[:20]:
            print("  quarantined:", *item)
    assert not empty, f"stored with empty text although the mail has text: {empty[:10]}"
