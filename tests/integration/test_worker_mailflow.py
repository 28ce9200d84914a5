"""The worker end to end: Dovecot → tickets → acknowledgements at the SMTP server, through an
SMTP outage, and a caseworker's reply to an acknowledgement back onto its ticket.

The worker runs in a thread (run_worker with a stop event), so the test can shorten the
back-off; everything else is the real thing: Dovecot, aiosmtpd, SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import func, select

from app import worker
from app.domain import LOOP_HEADER
from app.mail import sending
from app.mail.notifications import never_acknowledged
from app.models import InboundMessage, OutboundMessage
from app.runtime import Runtime
from tests.ingest_mails import make_mail

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]


def _wait(condition: Any, timeout: float = 30.0, what: str = "") -> None:
    """Wait until `condition()` holds, or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or condition}")
        time.sleep(0.1)


def _sample(dubu_dev: Path) -> list[bytes]:
    """Twelve requests and four noise mails from the labelled corpus (no follow-ups)."""
    rows = list(csv.DictReader((dubu_dev / "labels.csv").read_text().splitlines()))
    requests = [r["file"] for r in rows if r["category"] not in ("noise", "followup")][:12]
    noise = [r["file"] for r in rows if r["category"] == "noise"][:4]
    return [(dubu_dev / name).read_bytes() for name in requests + noise]


@pytest.fixture
def flow_runtime(make_runtime, dovecot, db_url: str, smtp_settings, monkeypatch) -> Runtime:
    """A runtime on the test mailbox (polled every 5 s) and SMTP server (sent every second)."""
    monkeypatch.setattr(sending, "BACKOFF_BASE", timedelta(seconds=1))
    return make_runtime(
        database={"url": db_url}, mailbox=dovecot.settings(poll_seconds=5),
        smtp={**smtp_settings, "send_seconds": 1, "ack_limit_per_hour": 50},
    )


def _rows(runtime: Runtime, *where: Any) -> list[OutboundMessage]:
    """Outbox rows, optionally filtered."""
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboundMessage).where(*where)))


def _inbound(runtime: Runtime) -> list[InboundMessage]:
    """Every stored inbound message."""
    with runtime.sessions() as session:
        return list(session.scalars(select(InboundMessage)))


def test_outage_then_acks_once_and_a_reply_threads(flow_runtime: Runtime, dovecot, dubu_dev,
                                                   smtp_server) -> None:
    """SMTP down while mail arrives: acks wait; back up: each goes out once; replies thread."""
    runtime = flow_runtime
    smtp_server.stop()
    assert dovecot.append(_sample(dubu_dev)) == 16
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_worker,
                              args=(runtime, BlockingScheduler(), stop), daemon=True)
    thread.start()
    try:
        _wait(lambda: len(_inbound(runtime)) == 16, what="the worker to store the 16 mails")
        _wait(lambda: any(r.attempts for r in _rows(runtime)), what="a send attempt")
        time.sleep(1.5)
        waiting = _rows(runtime)
        assert waiting and all(r.status in ("pending", "sending") for r in waiting)
        assert smtp_server.messages == []

        inbound = _inbound(runtime)
        tickets = {m.message_id for m in inbound if m.kind == "ticket"}
        noise = {m.message_id for m in inbound if m.kind == "noise"}
        expected = {m.message_id for m in inbound if m.kind == "ticket"
                    and never_acknowledged(runtime.settings, m.sender) is None}
        assert noise and expected

        smtp_server.start()
        _wait(lambda: all(r.status == "sent" for r in _rows(runtime)), timeout=60,
              what="every queued mail to be sent after the outage")
        time.sleep(2)  # a few more send runs: nothing goes out twice
        sent = _rows(runtime)
        mails = smtp_server.wait_for(len(sent))
        assert len(mails) == len(sent)
        assert len({m["Message-ID"] for m in mails}) == len(mails)
        acks = [m for m in mails if ".ack." in m["Message-ID"]]
        answered = {m["In-Reply-To"].strip().strip("<>") for m in acks}
        assert answered == expected and answered <= tickets and not answered & noise
        assert all(m["Auto-Submitted"] == "auto-replied" and m[LOOP_HEADER] for m in acks)

        # The caseworker answers the acknowledgement: the answer joins the ticket.
        ack = acks[0]
        caseworker = smtp_server.envelopes[mails.index(ack)][1][0]
        dovecot.append([make_mail(f"SV: {ack['Subject']}", "Tak. Det virker nu.", caseworker,
                                  in_reply_to=ack["Message-ID"].strip().strip("<>"),
                                  references=(ack["Message-ID"].strip().strip("<>"),))])
        with runtime.sessions() as session:
            ticket_id = session.scalar(select(OutboundMessage.ticket_id).where(
                OutboundMessage.message_id == ack["Message-ID"].strip().strip("<>")))

        def reply_attached() -> bool:
            """The reply is stored as a follow-up of the acknowledged ticket."""
            with runtime.sessions() as session:
                return session.scalar(select(func.count()).where(
                    InboundMessage.kind == "followup",
                    InboundMessage.ticket_id == ticket_id)) == 1

        _wait(reply_attached, timeout=20, what="the reply to become a follow-up")
        time.sleep(1.5)
        assert len(smtp_server.messages) == len(mails)  # a follow-up is not acknowledged
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
