"""Polling a real Dovecot into SQLite and PostgreSQL: every mail stored once, marked after.

Marked `dovecot`; each test has a fresh mailbox user on the session's Dovecot.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.errors import MailboxError
from app.ingest.fetch import poll_once
from app.models import Blob, InboundMessage, MailboxState, Ticket
from app.runtime import Runtime
from tests.ingest_mails import make_mail

pytestmark = pytest.mark.dovecot
FLAG = "$Triaged"


def dev_mails(dubu_dev: Path) -> list[bytes]:
    """The 240 labelled mails in file order."""
    return [p.read_bytes() for p in sorted(dubu_dev.glob("*.eml"))]


def stored_ids(rt: Runtime) -> list[str]:
    """Message-IDs of every stored inbound message."""
    with rt.sessions() as session:
        return list(session.scalars(select(InboundMessage.message_id)))


def test_240_dev_mails_stored_once_marked_and_not_fetched_again(
    dovecot, make_runtime, db_url: str, dubu_dev: Path
) -> None:
    raws = dev_mails(dubu_dev)
    assert dovecot.append(raws) == 240
    rt = make_runtime(database={"url": db_url}, mailbox=dovecot.settings(batch_size=50))
    first = poll_once(rt)
    assert first.fetched == 240 and first.duplicates == 0
    assert first.tickets + first.followups + first.noise + first.quarantined == 240
    ids = stored_ids(rt)
    assert len(ids) == len(set(ids)) == 240
    assert dovecot.uids("UNKEYWORD", FLAG) == []
    assert len(dovecot.uids("KEYWORD", FLAG)) == 240
    assert dovecot.uids("SEEN") == []  # PEEK: the caseworkers' unread state is left alone
    second = poll_once(rt)
    assert second.fetched == 0
    assert len(stored_ids(rt)) == 240
    labels = {r["file"]: r for r in csv.DictReader((dubu_dev / "labels.csv").read_text().splitlines())}
    expected_followups = sum(1 for r in labels.values() if r["category"] == "followup")
    # Most labelled follow-ups must attach to a ticket rather than open new ones.
    assert first.followups >= expected_followups * 0.6, (str(first), expected_followups)


def test_move_mode_moves_processed_mail_to_a_folder_it_creates(
    dovecot, make_runtime, db_url: str, dubu_dev: Path
) -> None:
    raws = dev_mails(dubu_dev)[:30]
    dovecot.append(raws)
    rt = make_runtime(database={"url": db_url},
                      mailbox=dovecot.settings(mark="move", processed_folder="Behandlet",
                                               batch_size=8))
    summary = poll_once(rt)
    assert summary.fetched == 30 and summary.duplicates == 0
    assert dovecot.uids() == []
    assert len(dovecot.uids(folder="Behandlet")) == 30
    dovecot.append([make_mail("Nyt spørgsmål", "Hvor finder jeg skabelonen til partshøring?")])
    again = poll_once(rt)
    assert (again.fetched, again.tickets) == (1, 1)
    assert len(stored_ids(rt)) == 31


def test_uidvalidity_change_resets_and_stores_nothing_twice(
    dovecot, make_runtime, db_url: str
) -> None:
    dovecot.append([make_mail(f"Spørgsmål {i}", f"Hvordan gør jeg {i}?") for i in range(6)])
    rt = make_runtime(database={"url": db_url}, mailbox=dovecot.settings())
    assert poll_once(rt).tickets == 6
    dovecot.server.set_uidvalidity(dovecot.user, 4242)
    # An administrator cleared a flag by hand: that mail is fetched again and seen as stored.
    client = dovecot.server.client(dovecot.user)
    client.select_folder("INBOX")
    client.remove_flags([2], [FLAG])
    client.logout()
    dovecot.append([make_mail("Helt nyt", "Hvor finder jeg en rapport over bevillinger?")])
    summary = poll_once(rt)
    assert (summary.fetched, summary.tickets, summary.duplicates) == (2, 1, 1)
    assert dovecot.uids("UNKEYWORD", FLAG) == []
    with rt.sessions() as session:
        state = session.scalars(select(MailboxState)).one()
        assert (state.uidvalidity, state.last_uid) == (4242, 7)
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 7


def test_a_failing_mail_is_quarantined_and_the_rest_are_stored(
    dovecot, make_runtime, db_url: str
) -> None:
    class Exploding:
        """The real classifier, failing on one subject."""

        def __init__(self, real) -> None:
            self.real = real

        def classify(self, subject: str, new_text: str):
            if "BOOM" in subject:
                raise ValueError("cannot classify this one")
            return self.real.classify(subject, new_text)

    bad = make_mail("BOOM i bevillingen", "Noget gik galt.", message_id="boom@korsbaek.dk")
    dovecot.append([make_mail("Første", "Hvordan opretter jeg en sag?"), bad,
                    make_mail("Tredje", "Hvor finder jeg min opgaveliste?")])
    rt = make_runtime(database={"url": db_url}, mailbox=dovecot.settings())
    rt.__dict__["classifier"] = Exploding(rt.classifier)
    summary = poll_once(rt)
    assert (summary.fetched, summary.tickets, summary.quarantined) == (3, 2, 1)
    assert dovecot.uids("UNKEYWORD", FLAG) == []
    with rt.sessions() as session:
        kept = session.scalars(select(InboundMessage).where(
            InboundMessage.message_id == "boom@korsbaek.dk")).one()
        assert kept.kind == "quarantined" and "cannot classify this one" in kept.error
        assert kept.uid == 2 and kept.received_at is not None
        assert session.get(Blob, kept.raw_sha256).data.replace(b"\r\n", b"\n") == bad.replace(
            b"\r\n", b"\n")
        assert session.scalar(select(func.count()).select_from(Ticket)) == 2


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_with_the_servers_certificate(dovecot, make_runtime, sqlite_url, security) -> None:
    dovecot.append([make_mail()])
    rt = make_runtime(database={"url": sqlite_url}, mailbox=dovecot.settings(security))
    assert poll_once(rt).tickets == 1


def test_an_untrusted_certificate_is_refused(dovecot, make_runtime, sqlite_url) -> None:
    rt = make_runtime(database={"url": sqlite_url},
                      mailbox=dovecot.settings("ssl", ca_file=""))
    with pytest.raises(MailboxError, match="IMAP connect/login failed"):
        poll_once(rt)


def test_a_wrong_password_is_a_clear_error(dovecot, make_runtime, sqlite_url) -> None:
    rt = make_runtime(database={"url": sqlite_url},
                      mailbox=dovecot.settings(password="wrong"))
    with pytest.raises(MailboxError, match="login"):
        poll_once(rt)


def test_move_mode_on_a_server_without_move(dovecot, make_runtime, sqlite_url, monkeypatch) -> None:
    from imapclient import IMAPClient

    real = IMAPClient.has_capability
    monkeypatch.setattr(IMAPClient, "has_capability",
                        lambda self, cap: cap.upper() != "MOVE" and real(self, cap))
    dovecot.append([make_mail(f"Spørgsmål {i}", f"Hvordan gør jeg {i}?") for i in range(4)])
    rt = make_runtime(database={"url": sqlite_url}, mailbox=dovecot.settings(mark="move"))
    assert poll_once(rt).tickets == 4
    assert dovecot.uids() == []  # copied, then deleted and expunged by UID
    assert len(dovecot.uids(folder="Behandlet")) == 4
    assert poll_once(rt).fetched == 0
