"""The worker's IMAP IDLE loop against the real Dovecot: new mail arrives without a poll, a
dropped connection comes back, a server without IDLE is polled, and SIGTERM stops it at once.

The loop (`worker.watch_job`) runs in a thread with a stop event; `RecordingMailbox` is the
real adapter, noting each connection and each IDLE so a test can wait for the loop to be idle.
Poll intervals are set long where mail must come through IDLE, so only IDLE can deliver it in
time. The latency itself is measured by `benchmarks/ingest.py --idle`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import worker
from app.ingest import watch as watch_loop
from app.ingest.imap import IMAPClientMailbox
from app.models import InboundMessage
from app.runtime import Runtime
from app.settings import MailboxSettings
from tests.dovecot import Dovecot
from tests.ingest_mails import make_mail

pytestmark = pytest.mark.dovecot
FLAG = "$Triaged"


@dataclass
class Record:
    """What the watched mailbox saw: connections made, and a flag raised at each IDLE."""

    connects: int = 0
    idles: int = 0
    idling: threading.Event = field(default_factory=threading.Event)


class RecordingMailbox(IMAPClientMailbox):
    """The real adapter, counting connections and IDLE commands."""

    def __init__(self, settings: MailboxSettings, record: Record) -> None:
        """Connect, and count it."""
        super().__init__(settings)
        self.record = record
        record.connects += 1

    def idle_start(self) -> None:
        """Enter IDLE, and say so."""
        super().idle_start()
        self.record.idles += 1
        self.record.idling.set()


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until `condition()` holds, or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def _stored(rt: Runtime) -> int:
    """How many inbound mails are stored."""
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboundMessage)) or 0)


@dataclass
class Watcher:
    """A running watch_job and what it saw."""

    record: Record
    stop: threading.Event
    thread: threading.Thread

    def wait_idle(self, connects: int = 1) -> None:
        """Wait until the loop idles on its `connects`-th connection."""
        _wait(lambda: self.record.idling.is_set() and self.record.connects == connects, 20,
              f"IDLE on connection {connects}")


@pytest.fixture
def watch(monkeypatch) -> Iterator[Callable[[Runtime], Watcher]]:
    """Factory: run watch_job on a runtime in a thread; it is stopped after the test."""
    monkeypatch.setattr(watch_loop, "RECONNECT_BACKOFF", (0.2, 0.5))
    started: list[Watcher] = []

    def start(rt: Runtime) -> Watcher:
        """Start watching the runtime's mailbox."""
        record, stop = Record(), threading.Event()
        thread = threading.Thread(target=worker.watch_job, daemon=True,
                                  args=(rt, stop, lambda s: RecordingMailbox(s, record)))
        thread.start()
        started.append(Watcher(record, stop, thread))
        return started[-1]

    yield start
    for watcher in started:
        watcher.stop.set()
        watcher.thread.join(10)
        assert not watcher.thread.is_alive(), "watch_job did not stop"


def test_mail_appended_during_idle_is_stored_without_waiting_for_a_poll(
    dovecot, make_runtime, db_url: str, watch
) -> None:
    """With polls an hour apart, only IDLE can bring the mail (and a burst after it) in time."""
    rt = make_runtime(database={"url": db_url}, mailbox=dovecot.settings(poll_seconds=3600))
    watcher = watch(rt)
    watcher.wait_idle()
    dovecot.append([make_mail("Kan ikke gemme", "Hvordan gemmer jeg handleplanen?")])
    _wait(lambda: _stored(rt) == 1, 15, "the mail to be stored through IDLE")
    # A burst, one APPEND at a time, while the loop is busy storing and idling again.
    for i in range(5):
        dovecot.append([make_mail(f"Spørgsmål {i}", f"Hvor finder jeg skabelon {i}?")])
    _wait(lambda: _stored(rt) == 6, 20, "the burst to be stored")
    _wait(lambda: dovecot.uids("UNKEYWORD", FLAG) == [], 10, "every mail to be marked")
    assert _stored(rt) == 6 and watcher.record.connects == 1


@pytest.mark.parametrize("security", ["none", "ssl"])
def test_mail_that_came_after_the_last_search_is_noticed_when_idle_starts(
    dovecot, security: str
) -> None:
    """Dovecot announces it right behind "+ idling", in the same read: not lost in a buffer."""
    dovecot.append([make_mail("Først", "Hvordan opretter jeg en sag?")])
    box = IMAPClientMailbox(MailboxSettings(**dovecot.settings(security)))
    try:
        box.select()
        assert box.search_new(0) == [1]
        dovecot.append([make_mail("Imens", "Hvor finder jeg min opgaveliste?")])
        box.idle_start()
        deadline = time.monotonic() + 10
        while not box.idle_wait(1.0):
            assert time.monotonic() < deadline, "the new mail was never announced"
        box.idle_done()
        assert box.search_new(1) == [2]
        # A quiet connection is kept alive (and a vanished server noticed) by TCP probes.
        assert box.client.socket().getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    finally:
        box.close()


def test_mail_announced_during_our_own_commands_is_polled_for(dovecot) -> None:
    """EXISTS that came with the answer to a STORE is not said again in IDLE: still seen."""
    dovecot.append([make_mail("Først", "Hvordan opretter jeg en sag?")])
    box = IMAPClientMailbox(MailboxSettings(**dovecot.settings()))
    try:
        box.select()
        dovecot.append([make_mail("Imens", "Hvor finder jeg min opgaveliste?")])
        box.mark([1])  # the server tells of mail 2 in its answer to this STORE
        box.idle_start()
        assert box.idle_wait(2.0)
        box.idle_done()
    finally:
        box.close()


@pytest.mark.parametrize("drop", ["kick", "kill"])
def test_a_dropped_connection_reconnects_and_the_next_mail_arrives(
    dovecot, make_runtime, sqlite_url: str, watch, drop: str
) -> None:
    """`doveadm kick` (a BYE, then close) and a killed imap process (the socket just closes)."""
    dovecot.append([make_mail("Før", "Hvordan opretter jeg en sag?")])
    rt = make_runtime(database={"url": sqlite_url}, mailbox=dovecot.settings(poll_seconds=3600))
    watcher = watch(rt)
    watcher.wait_idle()
    assert _stored(rt) == 1
    watcher.record.idling.clear()
    if drop == "kick":
        dovecot.kick()
    else:
        assert dovecot.kill_sessions()
    watcher.wait_idle(connects=2)
    dovecot.append([make_mail("Efter", "Hvor finder jeg min opgaveliste?")])
    _wait(lambda: _stored(rt) == 2, 15, "the mail after the reconnect")
    _wait(lambda: dovecot.uids("UNKEYWORD", FLAG) == [], 10, "both mails to be marked")


def test_idle_is_renewed_with_a_poll_in_between(dovecot, make_runtime, sqlite_url: str, watch,
                                                monkeypatch) -> None:
    """IDLE is left and re-issued (25 minutes in production, a second here) on one connection."""
    monkeypatch.setattr(watch_loop, "IDLE_RENEW_SECONDS", 1.0)
    rt = make_runtime(database={"url": sqlite_url}, mailbox=dovecot.settings(poll_seconds=3600))
    watcher = watch(rt)
    watcher.wait_idle()
    _wait(lambda: watcher.record.idles >= 3, 15, "IDLE to be renewed twice")
    assert watcher.record.connects == 1


@pytest.fixture(scope="module")
def dovecot_without_idle() -> Iterator[Dovecot]:
    """A second Dovecot that does not advertise IDLE."""
    server = Dovecot(extra_config="imap_capability = IMAP4rev1 SASL-IR LITERAL+ UIDPLUS MOVE "
                                  "MULTIAPPEND")
    server.start()
    yield server
    server.stop()


def test_a_server_without_idle_is_polled_every_poll_seconds(
    dovecot_without_idle: Dovecot, make_runtime, sqlite_url: str, watch
) -> None:
    """No IDLE in the server's capabilities: the loop polls on its open connection."""
    server = dovecot_without_idle
    user = server.new_user()
    server.append(user, [make_mail("Før", "Hvordan opretter jeg en sag?")])
    rt = make_runtime(database={"url": sqlite_url},
                      mailbox=server.mailbox_settings(user, poll_seconds=5))
    watcher = watch(rt)
    _wait(lambda: _stored(rt) == 1, 15, "the first poll")
    server.append(user, [make_mail("Efter", "Hvor finder jeg min opgaveliste?")])
    _wait(lambda: _stored(rt) == 2, 20, "the next poll")
    assert watcher.record.idles == 0 and watcher.record.connects == 1


def test_sigterm_during_idle_stops_the_worker_process_at_once(
    dovecot, make_runtime, db_url: str, write_config, tmp_path: Path
) -> None:
    """`dubu-triage worker` in IDLE exits 0 within seconds of SIGTERM."""
    rt = make_runtime(database={"url": db_url})
    dovecot.append([make_mail("Før", "Hvordan opretter jeg en sag?")])
    config = write_config(database={"url": db_url}, smtp={"host": ""},
                          mailbox=dovecot.settings(poll_seconds=3600))
    log = tmp_path / "worker.log"
    executable = Path(sys.executable).parent / "dubu-triage"
    with log.open("w") as output:
        process = subprocess.Popen([str(executable), "--config", str(config), "worker"],
                                   cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait(lambda: _stored(rt) == 1 and "IMAP IDLE" in log.read_text(), 30,
              "the worker to store the mail and idle")
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        process.wait(timeout=15)
        stopped_in = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert process.returncode == 0, text
    assert stopped_in < 5, text  # an IDLE wait looks at the stop flag every second
    assert "worker stopped" in text
