"""The mailbox watch loop: poll, then IMAP IDLE until the server announces mail, for ever.

The worker runs `watch_job` as one long job when `mailbox.idle` is set. On one connection it
polls, then waits in IDLE (renewed every 25 minutes) or, on a server without IDLE, plain
polls every poll_seconds; when the connection drops it connects again with back-off. A
`threading.Event` stops it within about a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from app.errors import MailboxError
from app.runtime import Runtime

if TYPE_CHECKING:
    from app.ingest.imap import MailboxClient
    from app.settings import MailboxSettings

log = logging.getLogger(__name__)

IDLE_RENEW_SECONDS = 25 * 60.0  # re-issue IDLE before the server's 30-minute cut (RFC 2177: 29)
IDLE_CHECK_SECONDS = 1.0  # how long one wait in IDLE lasts before `stop` is looked at again
RECONNECT_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)  # seconds, then 300 on


def _backoff(failures: int) -> float:
    """Seconds to wait before reconnecting after `failures` failed connections in a row."""
    return RECONNECT_BACKOFF[min(failures, len(RECONNECT_BACKOFF)) - 1] if failures else 0.0


def _idle(client: MailboxClient, stop: threading.Event, seconds: float) -> None:
    """IDLE for at most `seconds`, ending early on new mail or `stop` (checked every second)."""
    client.idle_start()
    deadline = time.monotonic() + seconds
    try:
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if client.idle_wait(min(IDLE_CHECK_SECONDS, left)):
                break
    except BaseException:
        with suppress(MailboxError):  # the connection is likely gone: the first error tells
            client.idle_done()
        raise
    client.idle_done()


def _watch_connection(runtime: Runtime, client: MailboxClient, stop: threading.Event,
                      polled: Callable[[], None]) -> None:
    """On one connection: poll, then wait (IDLE, or poll_seconds without it), until `stop`."""
    from app.ingest.fetch import poll_mailbox

    settings = runtime.settings.mailbox
    idle = client.idle_supported()
    log.info("%s: %s", client.name, "waiting for mail with IMAP IDLE" if idle else
             f"the server has no IMAP IDLE; polling every {settings.poll_seconds} s")
    while not stop.is_set():
        run = poll_mailbox(runtime, client, stop)
        polled()
        if run.new or run.truncated:
            continue  # mail may have come meanwhile, its notice answered with our commands
        # Mail that could not be fetched is tried again after poll_seconds, not 25 minutes.
        seconds = IDLE_RENEW_SECONDS if idle and not run.unfetched else settings.poll_seconds
        if idle:
            _idle(client, stop, seconds)
        else:
            stop.wait(seconds)


def watch_job(runtime: Runtime, stop: threading.Event,
              client_factory: Callable[[MailboxSettings], MailboxClient] | None = None) -> None:
    """Keep the mailbox watched until `stop`: connect, poll and IDLE; after any failure log
    it, wait (back-off), and connect again. Never raises."""
    from app.ingest.imap import connect

    failures = 0

    def polled() -> None:
        """A poll went through: the next failure starts the back-off anew."""
        nonlocal failures
        failures = 0

    while not stop.is_set():
        try:
            client = (client_factory or connect)(runtime.settings.mailbox)
            try:
                _watch_connection(runtime, client, stop, polled)
            finally:
                client.close()
        except MailboxError as error:
            failures += 1
            log.warning("mailbox: %s; connecting again in %.0f s", error, _backoff(failures))
        except Exception:  # a database outage, a bug: the worker must keep watching
            failures += 1
            log.exception("watching the mailbox failed; trying again in %.0f s",
                          _backoff(failures))
        stop.wait(_backoff(failures))
