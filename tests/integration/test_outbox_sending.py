"""Sending the outbox: an SMTP outage delays mail and loses none; retries; two senders at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main as cli
from app.db import make_engine, make_sessionmaker
from app.errors import InvalidActionError
from app.mail.outbox import LEASE, SendReport, enqueue, retry_failed, send_pending
from app.models import AuditEvent, OutboundMessage
from app.runtime import Runtime

NOW = datetime(2024, 4, 9, 8, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        """Start at NOW."""
        self.at = NOW

    def __call__(self) -> datetime:
        """The current (test) time."""
        return self.at


@pytest.fixture
def clock() -> Clock:
    """The test's clock."""
    return Clock()


def _runtime(settings: Any, clock: Clock) -> Runtime:
    """A runtime of its own (its own engine, as a second process would have)."""
    engine = make_engine(settings.database_url)
    return Runtime(settings, engine, make_sessionmaker(engine), now=clock)


@pytest.fixture
def mail_settings(make_settings, db_url: str, smtp_settings: dict[str, Any]) -> Any:
    """Settings on the test database and the test SMTP server; four tries at most."""
    return make_settings(database={"url": db_url}, smtp={**smtp_settings, "max_attempts": 4})


@pytest.fixture
def sender_rt(mail_settings: Any, clock: Clock) -> Iterator[Runtime]:
    """The runtime that sends."""
    runtime = _runtime(mail_settings, clock)
    yield runtime
    runtime.dispose()


def queue(runtime: Runtime, count: int = 1, **kw: Any) -> list[int]:
    """Queue `count` plain mails; their ids."""
    with runtime.sessions.begin() as session:
        rows = [
            enqueue(session, runtime.settings, kind="reply", to=[f"user{i}@korsbaek.dk"],
                    subject=f"Svar {i}", body_text=f"Tekst {i}\n", now=runtime.now(), **kw)
            for i in range(count)
        ]
        return [row.id for row in rows]


def row(runtime: Runtime, outbound_id: int) -> OutboundMessage:
    """The stored outbox row, fresh from the database."""
    with runtime.sessions() as session:
        return session.get_one(OutboundMessage, outbound_id)


def test_outage_delays_mail_and_loses_none(sender_rt: Runtime, smtp_server, clock: Clock) -> None:
    """SMTP down: the mail waits in the outbox; back up: it goes out exactly once."""
    [first, second] = queue(sender_rt, 2)
    smtp_server.stop()
    report = send_pending(sender_rt)
    assert report == SendReport(sent=0, failed=0, deferred=1)  # stops at the first refusal
    waiting = row(sender_rt, first)
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert "Connection refused" in (waiting.last_error or "")
    assert waiting.next_attempt_at == NOW + timedelta(minutes=1)
    assert row(sender_rt, second).attempts == 0  # never tried during the outage

    smtp_server.start()
    assert send_pending(sender_rt) == SendReport(sent=1)  # the untried one; the first backs off
    clock.at = NOW + timedelta(minutes=1)
    assert send_pending(sender_rt) == SendReport(sent=1)
    clock.at = NOW + timedelta(hours=1)
    assert send_pending(sender_rt) == SendReport()
    mails = smtp_server.wait_for(2)
    assert sorted(m["Subject"] for m in mails) == ["Svar 0", "Svar 1"]
    sent = row(sender_rt, first)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, None)


def test_retries_back_off_and_end_as_failed(sender_rt: Runtime, smtp_server, clock: Clock) -> None:
    """Each failed try doubles the wait; after max_attempts the mail is failed and audited."""
    [outbound_id] = queue(sender_rt)
    smtp_server.stop()
    waits = []
    for attempt in range(1, 4):
        assert send_pending(sender_rt).deferred == 1
        stored = row(sender_rt, outbound_id)
        waits.append(stored.next_attempt_at - clock.at)
        clock.at = stored.next_attempt_at - timedelta(seconds=1)
        assert send_pending(sender_rt) == SendReport()  # not due yet: not tried
        clock.at = stored.next_attempt_at
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert send_pending(sender_rt) == SendReport(failed=1)
    stored = row(sender_rt, outbound_id)
    assert (stored.status, stored.attempts) == ("failed", 4)
    smtp_server.start()
    clock.at += timedelta(days=1)
    assert send_pending(sender_rt) == SendReport()  # failed mail waits for a person
    assert smtp_server.messages == []
    with sender_rt.sessions.begin() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "mail_failed")).one()
        assert event.detail["outbound_id"] == outbound_id
        retry_failed(session, outbound_id, by=None, now=clock.at)  # "send again"
        with pytest.raises(InvalidActionError):
            retry_failed(session, outbound_id, by=None, now=clock.at)
    assert send_pending(sender_rt) == SendReport(sent=1)
    assert len(smtp_server.wait_for(1)) == 1


def test_a_refused_recipient_fails_that_mail_only(mail_settings: Any, clock: Clock) -> None:
    """A 550 for one address fails that mail at once; the mails after it still go out."""
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    received: list[list[str]] = []

    class Handler:
        async def handle_RCPT(self, _server: Any, _session: Any, envelope: Any, address: str,
                              _options: Any) -> str:
            if address.startswith("ukendt"):
                return "550 5.1.1 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            received.append(list(envelope.rcpt_tos))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = replace(mail_settings, smtp=replace(mail_settings.smtp, port=port))
        runtime = _runtime(settings, clock)
        with runtime.sessions.begin() as session:
            bad = enqueue(session, settings, kind="reply", to=["ukendt@korsbaek.dk"],
                          subject="Svar", body_text="x", now=NOW).id
        queue(runtime, 2)
        assert send_pending(runtime) == SendReport(sent=2, failed=1)
        assert sorted(received) == [["user0@korsbaek.dk"], ["user1@korsbaek.dk"]]
        failed = row(runtime, bad)
        assert failed.status == "failed" and "550" in (failed.last_error or "")
        runtime.dispose()
    finally:
        controller.stop()


def test_a_sender_that_died_mid_send_is_taken_over(sender_rt: Runtime, smtp_server,
                                                    clock: Clock) -> None:
    """A row left 'sending' by a killed sender is sent once its lease has run out."""
    [outbound_id] = queue(sender_rt)
    with sender_rt.sessions.begin() as session:
        stuck = session.get_one(OutboundMessage, outbound_id)
        stuck.status, stuck.next_attempt_at = "sending", NOW + LEASE
    assert send_pending(sender_rt) == SendReport()  # a live sender may still be on it
    clock.at = NOW + LEASE
    assert send_pending(sender_rt) == SendReport(sent=1)
    assert len(smtp_server.wait_for(1)) == 1


def test_two_senders_at_once_send_each_mail_once(mail_settings: Any, smtp_server,
                                                 clock: Clock) -> None:
    """Two senders with their own connections share the outbox; none sends a row twice."""
    first, second = _runtime(mail_settings, clock), _runtime(mail_settings, clock)
    ids = queue(first, 60)
    reports: list[SendReport] = []
    barrier = threading.Barrier(2)

    def run(runtime: Runtime) -> None:
        """Start together, then send everything due."""
        barrier.wait()
        reports.append(send_pending(runtime, limit=1000))

    threads = [threading.Thread(target=run, args=(rt,)) for rt in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    first.dispose()
    second.dispose()
    mails = smtp_server.wait_for(len(ids))
    assert sum(r.sent for r in reports) == len(ids) == len(mails)
    assert len({m["Message-ID"] for m in mails}) == len(ids)
    assert all(r.sent > 0 for r in reports), f"one sender did all the work: {reports}"


def test_send_outbox_command(mail_settings: Any, smtp_server, clock: Clock, tmp_path) -> None:
    """`dubu-triage send-outbox --json` sends what is due and prints the counts."""
    import tomli_w

    from tests.conftest import example_config

    runtime = _runtime(mail_settings, clock)
    clock.at = datetime.now(UTC) - timedelta(minutes=1)  # due by the wall clock
    queue(runtime, 3)
    runtime.dispose()
    data = example_config()
    data["database"]["url"] = mail_settings.database_url
    data["smtp"].update(host=smtp_server.host, port=smtp_server.port, security="none",
                        username="", password="")
    data["instance"]["path"] = str(tmp_path / "instance")
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps(data))
    result = CliRunner().invoke(cli, ["--config", str(config), "send-outbox", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"sent": 3, "failed": 0, "deferred": 0}
    assert len(smtp_server.wait_for(3)) == 3
