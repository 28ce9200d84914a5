"""Acknowledgements and alerts through the outbox to a real SMTP server, on both databases."""

from __future__ import annotations

import hashlib
import itertools
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from app.db import make_engine, make_sessionmaker, sync_people
from app.domain import LOOP_HEADER, is_our_message_id
from app.mail.notifications import queue_acknowledgement, queue_critical_alert
from app.mail.outbox import SendReport, enqueue, send_pending
from app.models import AuditEvent, Blob, InboundMessage, OutboundMessage, Ticket
from app.runtime import Runtime

NOW = datetime(2024, 4, 9, 8, 0, tzinfo=UTC)
_numbers = itertools.count(1)


@pytest.fixture
def mail_runtime(make_settings, db_url: str, smtp_settings: dict[str, Any]) -> Iterator[Runtime]:
    """A runtime on the test database whose SMTP server is the test server; the clock is NOW."""
    settings = make_settings(
        database={"url": db_url}, smtp={**smtp_settings, "ack_limit_per_hour": 3}
    )
    engine = make_engine(settings.database_url)
    runtime = Runtime(settings, engine, make_sessionmaker(engine), now=lambda: NOW)
    with runtime.sessions.begin() as session:
        sync_people(session, settings)
    yield runtime
    runtime.dispose()


@pytest.fixture
def smtp_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fails the test if anything opens an SMTP connection (for tests that only queue)."""
    attempts: list[Any] = []

    def refuse(self: smtplib.SMTP, *args: Any) -> Any:
        """Record and refuse."""
        attempts.append(args)
        raise AssertionError(f"unexpected SMTP connection {args}")

    monkeypatch.setattr(smtplib.SMTP, "connect", refuse)
    yield attempts
    assert attempts == [], "the test opened an SMTP connection"


def make_ticket(
    session: Any,
    sender: str = "anne.hansen@korsbaek.dk",
    *,
    kind: str = "ticket",
    source: str = "imap",
    category: str = "question",
    severity: str = "normal",
    has_cpr: bool = False,
) -> tuple[Ticket, InboundMessage]:
    """A ticket and the caseworker's mail that made it (raw bytes stored as a blob)."""
    n = next(_numbers)
    raw = f"Message-ID: <case-{n}@korsbaek.dk>\r\n\r\nHej".encode()
    sha = hashlib.sha256(raw).hexdigest()
    if session.get(Blob, sha) is None:
        session.add(Blob(sha256=sha, size=len(raw), data=raw))
    ticket = Ticket(subject=f"Kan ikke gemme handleplan {n}", requester=sender,
                    requester_name="Anne Hansen", category=category, topic="sagsbehandling",
                    severity=severity, created_at=NOW)
    session.add(ticket)
    session.flush()
    inbound = InboundMessage(
        message_id=f"case-{n}@korsbaek.dk", raw_sha256=sha, raw_size=len(raw), source=source,
        kind=kind, ticket_id=ticket.id, sender=sender, sender_name="Anne Hansen",
        subject=ticket.subject, references=["earlier@korsbaek.dk"], has_cpr=has_cpr,
        received_at=NOW,
    )
    session.add(inbound)
    session.flush()
    return ticket, inbound


def test_acknowledgement_arrives_with_our_headers(mail_runtime: Runtime, smtp_server) -> None:
    """A new ticket's writer gets a Danish, threaded, automatic, loop-marked acknowledgement."""
    with mail_runtime.sessions.begin() as session:
        ticket, inbound = make_ticket(session, has_cpr=True)
        row = queue_acknowledgement(session, mail_runtime.settings, ticket, inbound, NOW)
        assert row is not None
        ref = f"DUBU-{ticket.id}"
    assert smtp_server.messages == []  # queued, not sent, until the outbox runs
    assert send_pending(mail_runtime).sent == 1
    [mail] = smtp_server.wait_for(1)
    assert smtp_server.envelopes[0][1] == ["anne.hansen@korsbaek.dk"]
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail[LOOP_HEADER]
    assert is_our_message_id(mail["Message-ID"]) and f".{ref}.ack." in mail["Message-ID"]
    assert mail["In-Reply-To"] == f"<{inbound.message_id}>"
    assert mail["References"] == f"<earlier@korsbaek.dk> <{inbound.message_id}>"
    assert mail["Subject"].startswith(f"[{ref}] Vi har modtaget din henvendelse")
    text = mail.get_body(("plain",)).get_content()
    assert "Send aldrig CPR-numre" in text and "Din mail indeholdt et CPR-nummer" in text
    with mail_runtime.sessions() as session:
        stored = session.get_one(OutboundMessage, row.id)
        assert (stored.status, stored.attempts, stored.sent_at) == ("sent", 1, NOW)


@pytest.mark.parametrize(
    "sender, kind, source",
    [
        ("servicedesk@netcompany.example", "ticket", "imap"),
        ("dubu@kombit.dk", "ticket", "imap"),
        ("dubu@korsbaek.dk", "ticket", "imap"),
        ("anne.hansen@korsbaek.dk", "noise", "imap"),
        ("anne.hansen@korsbaek.dk", "followup", "imap"),
        ("anne.hansen@korsbaek.dk", "ticket", "import"),
    ],
)
def test_no_acknowledgement(mail_runtime: Runtime, smtp_guard, sender, kind, source) -> None:
    """Never to the service desk, KOMBIT, ourselves, noise, follow-ups or imported history."""
    with mail_runtime.sessions.begin() as session:
        ticket, inbound = make_ticket(session, sender, kind=kind, source=source)
        assert queue_acknowledgement(session, mail_runtime.settings, ticket, inbound, NOW) is None
    with mail_runtime.sessions() as session:
        assert session.scalars(select(OutboundMessage)).all() == []


def test_rate_limit_per_address(mail_runtime: Runtime, smtp_guard) -> None:
    """An address gets at most ack_limit_per_hour automatic mails an hour; skips are audited."""
    settings = mail_runtime.settings
    with mail_runtime.sessions.begin() as session:
        results = []
        for minute in range(5):
            ticket, inbound = make_ticket(session, "loopy@korsbaek.dk")
            at = NOW.replace(minute=minute)
            results.append(queue_acknowledgement(session, settings, ticket, inbound, at))
        other_ticket, other = make_ticket(session, "anne.hansen@korsbaek.dk")
        assert queue_acknowledgement(session, settings, other_ticket, other, NOW) is not None
        # An hour after the first ones the address may be acknowledged again.
        late_ticket, late = make_ticket(session, "loopy@korsbaek.dk")
        later = NOW.replace(hour=9, minute=1)
        assert queue_acknowledgement(session, settings, late_ticket, late, later) is not None
    assert [r is not None for r in results] == [True, True, True, False, False]
    with mail_runtime.sessions() as session:
        skipped = session.scalars(select(AuditEvent).where(AuditEvent.action == "ack_suppressed"))
        assert len(skipped.all()) == 2


def test_critical_alert(mail_runtime: Runtime, smtp_server) -> None:
    """The alert goes to the given people at once, automatic, with a link to the ticket."""
    people = ("lene.mortensen@korsbaek.dk", "Mads.Kjaer@korsbaek.dk", "lene.mortensen@korsbaek.dk")
    with mail_runtime.sessions.begin() as session:
        ticket, _ = make_ticket(session, category="fault", severity="critical")
        row = queue_critical_alert(session, mail_runtime.settings, ticket, people, NOW)
        assert row is not None and row.kind == "alert"
        assert queue_critical_alert(session, mail_runtime.settings, ticket, (), NOW) is None
        ticket_id = ticket.id
    send_pending(mail_runtime)
    [mail] = smtp_server.wait_for(1)
    assert sorted(smtp_server.envelopes[0][1]) == [
        "lene.mortensen@korsbaek.dk", "mads.kjaer@korsbaek.dk"]
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["Subject"].startswith(f"[DUBU-{ticket_id}] KRITISK")
    text = mail.get_body(("plain",)).get_content()
    assert f"https://dubu-triage.korsbaek.dk/tickets/{ticket_id}" in text


def test_attachments_and_cc_are_sent(mail_runtime: Runtime, smtp_server) -> None:
    """A forward's chosen attachments come from their blobs; cc recipients get the mail too."""
    from app.models import AttachmentRecord

    data = b"%PDF-1.4 fejlbesked"
    sha = hashlib.sha256(data).hexdigest()
    with mail_runtime.sessions.begin() as session:
        ticket, inbound = make_ticket(session, category="fault")
        session.add(Blob(sha256=sha, size=len(data), data=data))
        session.flush()  # no relationship orders the blob before the row that points at it
        record = AttachmentRecord(message_id=inbound.id, filename="fejl.pdf",
                                  content_type="application/pdf", size=len(data), sha256=sha)
        session.add(record)
        session.flush()
        enqueue(session, mail_runtime.settings, kind="forward_nc",
                to=["servicedesk@netcompany.example"], cc=["Mads Kjær <mads.kjaer@korsbaek.dk>"],
                subject="DUBU-1: Fejl", body_text="Maskeret tekst 140612-XXXX",
                ticket_id=ticket.id, references=[inbound.message_id],
                attachment_ids=[record.id], now=NOW)
    assert send_pending(mail_runtime).sent == 1
    [mail] = smtp_server.wait_for(1)
    assert sorted(smtp_server.envelopes[0][1]) == [
        "mads.kjaer@korsbaek.dk", "servicedesk@netcompany.example"]
    assert "Auto-Submitted" not in mail  # a person's forward is not automatic mail
    assert mail["References"] == f"<{inbound.message_id}>"
    [part] = list(mail.iter_attachments())
    assert part.get_filename() == "fejl.pdf" and part.get_content() == data


def test_no_threading_on_a_made_up_message_id(mail_runtime: Runtime, smtp_guard) -> None:
    """A mail that had no Message-ID is acknowledged without pointing at an id it never had."""
    with mail_runtime.sessions.begin() as session:
        ticket, inbound = make_ticket(session)
        inbound.message_id = f"{'ab' * 32}@sha256.invalid"
        row = queue_acknowledgement(session, mail_runtime.settings, ticket, inbound, NOW)
        assert row is not None
        assert (row.in_reply_to, row.references) == (None, [])


def test_without_an_smtp_host_mail_waits(make_settings, db_url: str, smtp_guard) -> None:
    """With no SMTP server configured (the demo) nothing is tried and nothing is used up."""
    settings = make_settings(database={"url": db_url}, smtp={"host": ""})
    engine = make_engine(settings.database_url)
    runtime = Runtime(settings, engine, make_sessionmaker(engine), now=lambda: NOW)
    with runtime.sessions.begin() as session:
        outbound_id = enqueue(session, settings, kind="reply", to=["anne@korsbaek.dk"],
                              subject="Svar", body_text="Hej", now=NOW).id
    assert send_pending(runtime) == SendReport()
    with runtime.sessions() as session:
        row = session.get_one(OutboundMessage, outbound_id)
        assert (row.status, row.attempts) == ("pending", 0)
    runtime.dispose()


@pytest.mark.parametrize(
    "changes",
    [
        {"to": []},
        {"to": ["not an address"]},
        {"to": ["anne@korsbaek.dk\r\nBcc: evil@example.org"]},
        {"extra_headers": {"Bcc": "evil@example.org"}},
        {"extra_headers": {"X-Note": "one\r\nBcc: evil@example.org"}},
        {"extra_headers": {"Message-ID": "<mine@example.org>"}},
    ],
)
def test_enqueue_refuses_what_would_make_a_bad_mail(mail_runtime: Runtime, smtp_guard,
                                                    changes: dict[str, Any]) -> None:
    """No recipient, a non-address, injected lines or a second Message-ID are refused."""
    from app.errors import InvalidActionError

    arguments: dict[str, Any] = {"kind": "reply", "to": ["anne@korsbaek.dk"],
                                 "subject": "Svar", "body_text": "Hej", **changes}
    with mail_runtime.sessions() as session, pytest.raises(InvalidActionError):
        enqueue(session, mail_runtime.settings, **arguments)


def test_enqueue_takes_one_bare_address_and_folds_the_subject(mail_runtime: Runtime,
                                                               smtp_guard) -> None:
    """A lone address string is one recipient; a subject with line breaks becomes one line."""
    with mail_runtime.sessions.begin() as session:
        row = enqueue(session, mail_runtime.settings, kind="reply", to="Anne <Anne@Korsbaek.dk>",
                      cc=["anne@korsbaek.dk", "lene.mortensen@korsbaek.dk"],
                      subject="Svar\r\n  på  sag", body_text="Hej", now=NOW)
        assert row.to_addrs == ["anne@korsbaek.dk"]
        assert row.cc_addrs == ["lene.mortensen@korsbaek.dk"]
        assert row.subject == "Svar på sag"
