"""A FETCH that fails for one message never stops the others, and never loses that message.

Against the real Dovecot where it can be made to fail: a message file the server cannot read
(Dovecot answers its FETCH with an internal error and hangs up) and mail over max_size. Where
Dovecot cannot fail the way a server may (a NO that leaves the connection open, a header only
ENVELOPE can give, a connection dropped in the middle of a poll), `RefusingMailbox` is the real
adapter on the real server with chosen FETCHes failing as IMAPClient would report them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from sqlalchemy import func, select, update

from app.errors import MailboxError
from app.ingest.fetch import UNFETCHED, poll_once
from app.ingest.imap import IMAPClientMailbox
from app.models import AuditEvent, Blob, InboundMessage, MailboxState, Person, Ticket
from app.runtime import Runtime
from app.services import ticket_actions
from app.services.auth import hash_password
from app.settings import MailboxSettings
from tests.ingest_mails import make_mail

pytestmark = pytest.mark.dovecot
FLAG = "$Triaged"


def _messages(rt: Runtime) -> dict[int, InboundMessage]:
    """Stored inbound mail by UID."""
    with rt.sessions() as session:
        return {int(m.uid or 0): m for m in session.scalars(select(InboundMessage))}


def _count(rt: Runtime, model: Any, *where: Any) -> int:
    """Rows of a table."""
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _last_uid(rt: Runtime) -> int:
    """The last UID the poll has stored and marked everything up to."""
    with rt.sessions() as session:
        return int(session.scalars(select(MailboxState.last_uid)).one())


def test_an_unreadable_message_is_kept_unmarked_and_replaced_once_readable(
    dovecot, make_runtime, db_url: str
) -> None:
    """Dovecot cannot read one message file: the rest are stored, that one waits unmarked."""
    raws = [make_mail(f"Spørgsmål {i}", f"Hvordan opretter jeg bevilling nummer {i}?",
                      message_id=f"q{i}@korsbaek.dk") for i in range(1, 6)]
    dovecot.append(raws)
    dovecot.set_readable(3, False)
    rt = make_runtime(database={"url": db_url}, mailbox=dovecot.settings(batch_size=10))

    first = poll_once(rt)
    assert (first.fetched, first.tickets, first.quarantined) == (5, 4, 1)
    assert dovecot.uids("UNKEYWORD", FLAG) == [3]  # the others are marked, this one waits
    held = _messages(rt)[3]
    assert (held.kind, held.source) == ("quarantined", UNFETCHED)
    assert held.error.startswith("Kunne ikke hentes fra IMAP-serveren")
    assert "FETCH failed" in held.error  # the server's own words
    assert _last_uid(rt) == 2  # the next search still reaches UID 3

    again = poll_once(rt)  # still unreadable: tried again, kept once
    assert (again.fetched, again.duplicates) == (1, 1)
    assert _count(rt, InboundMessage) == 5

    dovecot.set_readable(3, True)
    dovecot.append([make_mail("Nyt", "Hvor finder jeg skabelonen?", message_id="q6@korsbaek.dk")])
    last = poll_once(rt)
    assert (last.fetched, last.tickets, last.quarantined) == (2, 2, 0)
    stored = _messages(rt)
    assert sorted(stored) == [1, 2, 3, 4, 5, 6]
    assert (stored[3].kind, stored[3].source, stored[3].message_id) == ("ticket", "imap",
                                                                       "q3@korsbaek.dk")
    assert stored[3].subject == "Spørgsmål 3" and stored[3].error is None
    assert dovecot.uids("UNKEYWORD", FLAG) == [] and _last_uid(rt) == 6
    assert _count(rt, AuditEvent, AuditEvent.action == "message.unfetched_replaced") == 1
    assert _count(rt, Blob, Blob.sha256 == held.raw_sha256) == 0  # the placeholder's bytes too


@dataclass
class Failures:
    """Which FETCHes fail, and every FETCH seen.

    `refuse` maps a UID to the FETCH items refused for it ("BODY.PEEK[]", "BODY.PEEK[HEADER]",
    "ENVELOPE"); a refusal is a NO, the connection stays. A body FETCH of a `drop_on` UID breaks
    the connection instead, the way imaplib reports a socket that closed.
    """

    refuse: dict[int, set[str]] = field(default_factory=dict)
    drop_on: set[int] = field(default_factory=set)
    fetches: list[tuple[tuple[int, ...], tuple[str, ...]]] = field(default_factory=list)


class RefusingMailbox(IMAPClientMailbox):
    """The real adapter on the real server; FETCHes of chosen items of chosen UIDs fail."""

    def __init__(self, settings: MailboxSettings, failures: Failures) -> None:
        """Connect like the real adapter, with `failures` planned."""
        self.failures = failures
        super().__init__(settings)

    def _log_in(self) -> None:
        """Log in, then put the failing FETCH in front of IMAPClient's own."""
        super()._log_in()
        real, client = self.client.fetch, self.client

        def fetch(messages: Sequence[int], data: Sequence[str], modifiers: Any = None) -> Any:
            """IMAPClient.fetch, failing for the chosen UIDs and items."""
            uids, parts, plan = set(messages), set(data), self.failures
            plan.fetches.append((tuple(messages), tuple(data)))
            if uids & plan.drop_on and "BODY.PEEK[]" in parts:
                client.shutdown()
                raise IMAPClientAbortError("socket error: EOF")
            if any(parts & plan.refuse.get(uid, set()) for uid in uids):
                raise IMAPClientError("FETCH command error: NO [b'Message is corrupted']")
            return real(messages, data, modifiers)

        self.client.fetch = fetch  # type: ignore[method-assign]


@pytest.fixture
def refusing() -> tuple[Failures, Any]:
    """A plan of failures (none yet) and a client factory that follows it."""
    failures = Failures()

    def factory(settings: MailboxSettings) -> RefusingMailbox:
        """A refusing mailbox on the configured server."""
        return RefusingMailbox(settings, failures)

    return failures, factory


def test_a_refused_batch_is_fetched_one_by_one_and_the_header_comes_from_envelope(
    dovecot, make_runtime, db_url: str, refusing
) -> None:
    """A NO for one message's body and header: the batch goes one by one, ENVELOPE names it."""
    box, factory = refusing
    dovecot.append([make_mail(f"Spørgsmål {i}", f"Hvordan gør jeg {i}?", message_id=f"m{i}@x.dk",
                              sender="Anne Larsen <anne.larsen@korsbaek.dk>")
                    for i in range(1, 5)])
    box.refuse = {2: {"BODY.PEEK[]", "BODY.PEEK[HEADER]"}}
    rt = make_runtime(database={"url": db_url}, mailbox=dovecot.settings(batch_size=4))
    summary = poll_once(rt, factory)
    assert (summary.tickets, summary.quarantined) == (3, 1)
    bodies = [uids for uids, parts in box.fetches if "BODY.PEEK[]" in parts]
    assert bodies[0] == (1, 2, 3, 4) and (1,) in bodies and (3,) in bodies  # one by one
    assert bodies.count((2,)) == 2  # a second try before giving up
    held = _messages(rt)[2]
    assert held.source == UNFETCHED and "Message is corrupted" in held.error
    # From ENVELOPE: a person can see whose mail it is and what it is about.
    assert (held.subject, held.sender, held.message_id) == ("Spørgsmål 2",
                                                           "anne.larsen@korsbaek.dk", "m2@x.dk")
    assert dovecot.uids("UNKEYWORD", FLAG) == [2]

    box.refuse = {}
    assert poll_once(rt, factory).tickets == 1
    assert _messages(rt)[2].kind == "ticket" and _count(rt, InboundMessage) == 4


def test_a_placeholder_made_a_ticket_gets_the_real_mail_and_keeps_its_ticket(
    dovecot, make_runtime, sqlite_url: str, refusing
) -> None:
    """Nothing but a UID is known, a superuser restores it anyway; the real mail fills it in."""
    box, factory = refusing
    dovecot.append([make_mail("Kan ikke gemme handleplan", "Knappen gem giver en fejl.",
                              message_id="plan@korsbaek.dk")])
    box.refuse = {1: {"BODY.PEEK[]", "BODY.PEEK[HEADER]", "ENVELOPE"}}
    rt = make_runtime(database={"url": sqlite_url}, mailbox=dovecot.settings())
    assert poll_once(rt, factory).quarantined == 1
    held = _messages(rt)[1]
    assert held.subject == "" and b"kunne ikke hentes" in _blob(rt, held.raw_sha256)
    with rt.sessions.begin() as session:  # a superuser restores it before the server recovers
        lene = session.scalars(select(Person).where(
            Person.email == "lene.mortensen@korsbaek.dk")).one()
        ticket_id = ticket_actions.restore(session, rt, lene, held.id, now=datetime.now(UTC)).id

    box.refuse = {}
    summary = poll_once(rt, factory)
    assert (summary.fetched, summary.duplicates) == (1, 1)
    stored = _messages(rt)[1]
    assert (stored.id, stored.ticket_id, stored.source) == (held.id, ticket_id, "imap")
    assert stored.subject == "Kan ikke gemme handleplan" and "Knappen gem" in stored.text
    assert _count(rt, Ticket) == 1 and dovecot.uids("UNKEYWORD", FLAG) == []
    with rt.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.subject == "Kan ikke gemme handleplan"
        assert ticket.requester == "anne.larsen@korsbaek.dk"


def _blob(rt: Runtime, sha256: str) -> bytes:
    """Stored raw bytes."""
    with rt.sessions() as session:
        blob = session.get(Blob, sha256)
        assert blob is not None
        return bytes(blob.data)


def test_a_dropped_connection_ends_the_poll_without_placeholders(
    dovecot, make_runtime, sqlite_url: str, refusing
) -> None:
    """A socket that closes is not a refused message: the poll ends, nothing is lost."""
    box, factory = refusing
    dovecot.append([make_mail(f"Spørgsmål {i}", f"Hvordan gør jeg {i}?") for i in range(1, 7)])
    box.drop_on = {4}
    rt = make_runtime(database={"url": sqlite_url}, mailbox=dovecot.settings(batch_size=3))
    with pytest.raises(MailboxError, match="socket error"):
        poll_once(rt, factory)
    assert sorted(_messages(rt)) == [1, 2, 3]  # the first batch, stored and marked
    assert dovecot.uids("UNKEYWORD", FLAG) == [4, 5, 6]
    box.drop_on = set()
    summary = poll_once(rt, factory)
    assert (summary.fetched, summary.tickets, summary.duplicates) == (3, 3, 0)


def test_mail_over_max_size_is_quarantined_in_danish_and_listed_on_the_web(
    dovecot, make_runtime, sqlite_url: str
) -> None:
    """Too big: kept whole or by its header, marked, and explained in Danish in Karantæne."""
    from app.web import create_app
    from tests.web.conftest import PASSWORD, log_in

    big = make_mail("Stor vedhæftning", "x" * 2000, message_id="big@korsbaek.dk")
    huge = make_mail("Kæmpe vedhæftning", "y" * 9000, message_id="huge@korsbaek.dk")
    dovecot.append([big, huge, make_mail(message_id="small@korsbaek.dk")])
    rt = make_runtime(database={"url": sqlite_url}, mailbox=dovecot.settings(max_size=1024))
    summary = poll_once(rt)
    assert (summary.quarantined, summary.tickets) == (2, 1)
    assert dovecot.uids("UNKEYWORD", FLAG) == []
    stored = {m.message_id: m for m in _messages(rt).values()}
    assert re.match(r"For stor til at blive behandlet: mailen fylder [234] kB, grænsen er 1 kB",
                    stored["big@korsbaek.dk"].error)
    assert _blob(rt, stored["big@korsbaek.dk"].raw_sha256).replace(b"\r\n", b"\n") == big.replace(
        b"\r\n", b"\n")
    assert "hele mailen ligger stadig på IMAP-serveren (i mappen INBOX, markeret $Triaged)" in \
        stored["huge@korsbaek.dk"].error
    assert b"y" * 100 not in _blob(rt, stored["huge@korsbaek.dk"].raw_sha256)

    with rt.sessions.begin() as session:
        session.execute(update(Person).values(password_hash=hash_password(PASSWORD)))
    app = create_app(runtime=rt)
    app.config["TESTING"] = True
    with app.test_client() as client:
        log_in(client, "lene.mortensen@korsbaek.dk")
        page = client.get("/quarantine").get_data(as_text=True)
    assert "Kæmpe vedhæftning" in page and "Stor vedhæftning" in page
    assert page.count("For stor til at blive behandlet") == 2
