"""The pipeline and one poll, against a fake mailbox (the protocol) and a real SQLite database.

The same behaviour against a real Dovecot is in tests/integration/test_ingest_dovecot.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email import message_from_bytes

import pytest
from sqlalchemy import func, select

from app.domain import MessageKind
from app.errors import MailboxError
from app.ingest.fetch import PollSummary, poll_once
from app.ingest.imap import FetchedMail, IMAPClientMailbox
from app.ingest.pipeline import ingest_raw
from app.models import AuditEvent, Blob, InboundMessage, MailboxState, Ticket
from app.runtime import Runtime
from app.settings import MailboxSettings
from tests.conftest import free_port
from tests.ingest_mails import make_mail

ARRIVED = datetime(2024, 4, 16, 7, 45, tzinfo=UTC)


@pytest.fixture
def make_rt(make_settings, sqlite_url: str, runtime_for):
    """Factory: a runtime on a fresh SQLite database with extra settings sections."""

    def factory(**sections) -> Runtime:
        return runtime_for(make_settings(database={"url": sqlite_url}, **sections))

    return factory


@pytest.fixture
def rt(make_rt) -> Runtime:
    """A runtime with the example settings."""
    return make_rt()


class FakeMailbox:
    """An in-memory mailbox; `mark` checks that what it marks is committed already."""

    def __init__(self, rt: Runtime, mails: dict[int, bytes], uidvalidity: int = 7) -> None:
        self.rt, self.mails, self.uidvalidity = rt, dict(mails), uidvalidity
        self.name = "dubu@fake/INBOX"
        self.flagged: set[int] = set()
        self.fetch_calls = 0

    def select(self) -> int:
        return self.uidvalidity

    def search_new(self, last_uid: int) -> list[int]:
        return [u for u in sorted(self.mails) if u > last_uid and u not in self.flagged]

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        return {u: len(self.mails[u]) for u in uids}

    def fetch(self, uids: Sequence[int], *, header_only: bool = False) -> list[FetchedMail]:
        self.fetch_calls += 1 if uids else 0
        out = []
        for u in uids:
            raw = self.mails[u].split(b"\n\n", 1)[0] + b"\n\n" if header_only else self.mails[u]
            out.append(FetchedMail(u, raw, ARRIVED, len(self.mails[u]), header_only))
        return out

    def mark(self, uids: Sequence[int]) -> None:
        with self.rt.sessions() as session:
            stored = set(session.scalars(select(InboundMessage.message_id)))
        ids = {u: message_from_bytes(self.mails[u])["Message-ID"].strip("<>") for u in uids}
        missing = {u for u, message_id in ids.items() if message_id not in stored}
        assert not missing, f"marked before being stored: {missing}"
        self.flagged.update(uids)

    def close(self) -> None:
        pass


def count(rt: Runtime, model, *where) -> int:
    """Rows of a table."""
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)))


def mails(n: int, start: int = 1) -> dict[int, bytes]:
    """n distinct questions under UIDs start.."""
    return {uid: make_mail(f"Spørgsmål nummer {uid} om bevillinger",
                           f"Hvordan opretter jeg en bevilling til sag {uid}?")
            for uid in range(start, start + n)}


def test_poll_stores_each_mail_once_and_marks_it_only_after_commit(rt: Runtime) -> None:
    box = FakeMailbox(rt, mails(12))
    first = poll_once(rt, lambda _s: box)
    assert (first.fetched, first.tickets, first.duplicates) == (12, 12, 0)
    assert box.flagged == set(range(1, 13))
    again = poll_once(rt, lambda _s: box)
    assert again.fetched == 0
    assert count(rt, InboundMessage) == 12
    assert count(rt, Ticket) == 12


def test_summary_line_and_json_keys() -> None:
    summary = PollSummary(fetched=9, tickets=4, followups=2, noise=1, quarantined=1, duplicates=1)
    assert str(summary) == ("fetched 9: 4 tickets, 2 follow-ups, 1 noise, 1 quarantined, "
                            "1 already stored")
    assert set(summary.as_dict()) == {"fetched", "tickets", "followups", "noise",
                                      "quarantined", "duplicates"}


def test_same_message_id_is_stored_once_and_changes_nothing(rt: Runtime) -> None:
    raw = make_mail(message_id="same@korsbaek.dk")
    first = ingest_raw(rt, raw, source="import")
    events = count(rt, AuditEvent)
    second = ingest_raw(rt, raw, source="imap", mailbox="m", uidvalidity=1, uid=5)
    assert not first.duplicate and second.duplicate
    assert second.ticket_id == first.ticket_id and second.kind is MessageKind.TICKET
    assert count(rt, InboundMessage) == 1 and count(rt, AuditEvent) == events


def test_a_different_mail_reusing_a_message_id_is_kept_too(rt: Runtime) -> None:
    first = ingest_raw(rt, make_mail("Første", "Hvordan opretter jeg en sag?",
                                     message_id="reused@korsbaek.dk"), source="import")
    other_raw = make_mail("Anden", "Hvor finder jeg ydelseskataloget?",
                          message_id="reused@korsbaek.dk")
    other = ingest_raw(rt, other_raw, source="import")
    assert not other.duplicate and other.ticket_id != first.ticket_id
    assert other.message_id.startswith("reused@korsbaek.dk#")
    assert ingest_raw(rt, other_raw, source="import").duplicate
    # The same mail with other line endings (another route, another client) is the same mail.
    crlf = make_mail("Første", "Hvordan opretter jeg en sag?", message_id="reused@korsbaek.dk")
    assert ingest_raw(rt, crlf.replace(b"\n", b"\r\n"), source="import").duplicate
    assert count(rt, InboundMessage) == 2


def test_same_uid_is_a_duplicate_even_with_other_bytes(rt: Runtime) -> None:
    where = {"source": "imap", "mailbox": "m", "uidvalidity": 3, "uid": 9}
    ingest_raw(rt, make_mail(), **where)
    again = ingest_raw(rt, make_mail(subject="Noget helt andet"), **where)
    assert again.duplicate and count(rt, InboundMessage) == 1


class ExplodingClassifier:
    """The real classifier, except on subjects with BOOM in them."""

    def __init__(self, real) -> None:
        self.real = real

    def classify(self, subject: str, new_text: str):
        if "BOOM" in subject:
            raise RuntimeError("classifier blew up")
        return self.real.classify(subject, new_text)


def test_a_mail_that_fails_is_quarantined_raw_and_the_rest_go_on(rt: Runtime) -> None:
    rt.__dict__["classifier"] = ExplodingClassifier(rt.classifier)
    batch = mails(5)
    batch[3] = make_mail("BOOM i handleplanen", "Gem virker ikke.", message_id="boom@korsbaek.dk")
    box = FakeMailbox(rt, batch)
    summary = poll_once(rt, lambda _s: box)
    assert (summary.tickets, summary.quarantined) == (4, 1)
    assert box.flagged == set(batch)
    with rt.sessions() as session:
        bad = session.scalars(select(InboundMessage).where(InboundMessage.kind == "quarantined")).one()
        assert bad.message_id == "boom@korsbaek.dk" and bad.ticket_id is None
        assert "RuntimeError: classifier blew up" in bad.error
        assert session.get(Blob, bad.raw_sha256).data == batch[3]
    assert count(rt, Ticket) == 4
    assert poll_once(rt, lambda _s: box).fetched == 0


def test_uidvalidity_change_starts_over_without_duplicates(rt: Runtime) -> None:
    box = FakeMailbox(rt, mails(6))
    poll_once(rt, lambda _s: box)
    # The server renumbered the folder: the same mails under new UIDs and a new UIDVALIDITY.
    box.mails = {uid + 100: raw for uid, raw in box.mails.items()}
    box.uidvalidity, box.flagged = 8, set()
    summary = poll_once(rt, lambda _s: box)
    assert (summary.fetched, summary.duplicates, summary.tickets) == (6, 6, 0)
    assert box.flagged == set(box.mails)
    with rt.sessions() as session:
        state = session.scalars(select(MailboxState)).one()
        assert (state.uidvalidity, state.last_uid) == (8, 106)
    assert count(rt, InboundMessage) == 6


def test_mail_over_the_size_cap_is_quarantined_with_its_raw_or_its_header(make_rt) -> None:
    rt = make_rt(mailbox={"max_size": 1024})
    big = make_mail("Stor vedhæftning", "x" * 2000, message_id="big@korsbaek.dk")
    huge = make_mail("Kæmpe vedhæftning", "y" * 6000, message_id="huge@korsbaek.dk")
    box = FakeMailbox(rt, {1: big, 2: huge, 3: make_mail()})
    summary = poll_once(rt, lambda _s: box)
    assert (summary.quarantined, summary.tickets) == (2, 1)
    assert box.flagged == {1, 2, 3}
    with rt.sessions() as session:
        stored = {m.message_id: m for m in session.scalars(select(InboundMessage))}
        assert "larger than mailbox.max_size (1024 bytes)" in stored["big@korsbaek.dk"].error
        assert session.get(Blob, stored["big@korsbaek.dk"].raw_sha256).data == big
        assert "only its header was fetched" in stored["huge@korsbaek.dk"].error
        kept = session.get(Blob, stored["huge@korsbaek.dk"].raw_sha256).data
        assert b"Subject: " in kept and b"y" * 100 not in kept
        assert stored["huge@korsbaek.dk"].subject == "Kæmpe vedhæftning"


def test_a_run_takes_at_most_max_per_run_in_batches(make_rt) -> None:
    rt = make_rt(mailbox={"max_per_run": 7, "batch_size": 3})
    box = FakeMailbox(rt, mails(10))
    assert poll_once(rt, lambda _s: box).fetched == 7
    assert box.fetch_calls == 3
    assert poll_once(rt, lambda _s: box).fetched == 3


def test_arrival_time_is_internaldate_for_imap_and_the_date_header_for_import(rt: Runtime) -> None:
    dated = datetime(2024, 6, 3, 10, 0, tzinfo=UTC)
    imported = ingest_raw(rt, make_mail(date=dated), source="import")
    polled = ingest_raw(rt, make_mail(date=dated), source="imap", received_at=ARRIVED,
                        mailbox="m", uidvalidity=1, uid=1)
    with rt.sessions() as session:
        first = session.get(Ticket, imported.ticket_id)
        second = session.get(Ticket, polled.ticket_id)
        assert first.created_at == dated and not first.hypercare  # after hypercare ended
        assert second.created_at == ARRIVED and second.hypercare  # 2024-04-16: in hypercare


def test_an_unreachable_server_is_a_clear_mailbox_error() -> None:
    settings = MailboxSettings(host="127.0.0.1", port=free_port(), security="none",
                               username="x", password="y", timeout=5)
    with pytest.raises(MailboxError, match="127.0.0.1"):
        IMAPClientMailbox(settings)


def test_a_quarantined_mail_can_be_opened_as_a_ticket_later(rt: Runtime) -> None:
    from app.ingest.store import open_ticket_for

    real = rt.classifier
    rt.__dict__["classifier"] = ExplodingClassifier(real)
    raw = make_mail("BOOM: kan ikke udbetale", "Udbetalingen til plejefamilien fejler.",
                    message_id="later@korsbaek.dk")
    assert ingest_raw(rt, raw, source="imap").kind is MessageKind.QUARANTINED
    rt.__dict__["classifier"] = real
    now = datetime(2024, 4, 17, 9, 0, tzinfo=UTC)
    with rt.sessions.begin() as session:
        inbound = session.scalars(select(InboundMessage)).one()
        ticket = open_ticket_for(session, rt, inbound, now)
        assert inbound.kind == "ticket" and inbound.ticket_id == ticket.id
        assert ticket.subject == "BOOM: kan ikke udbetale"
        assert "plejefamilien" in inbound.text and ticket.requester == "anne.larsen@korsbaek.dk"
