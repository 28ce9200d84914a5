"""The worker process: one APScheduler BlockingScheduler that polls the mailbox and sends mail.

Run by `dubu-triage worker`; the web app never starts it. Jobs run with `max_instances=1` and
`coalesce=True`, so a slow poll is never overlapped by the next one and missed runs collapse
into one. With `mailbox.idle` the poll is one long job instead (`watch_job`, in
`app.ingest.watch`): poll, then IMAP IDLE until the server announces mail, reconnecting with
back-off when the connection drops, and plain polling every poll_seconds on a server without
IDLE. Only one worker may work a database at a time: on PostgreSQL it holds a session-level
advisory lock, on SQLite an exclusive file lock beside the database file; a second worker logs
that it waits and takes over when the first stops. A worker whose PostgreSQL connection (and so
its lock) is lost stops with an error, for its supervisor to restart it. SIGTERM and SIGINT
stop it cleanly: running jobs finish (`shutdown(wait=True)`), then the process exits 0.
"""

from __future__ import annotations

import fcntl
import logging
import signal
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ConfigError, DubuTriageError
from app.ingest.watch import watch_job
from app.models import OutboundMessage
from app.runtime import Runtime, open_runtime
from app.settings import Settings

log = logging.getLogger(__name__)
LockCheck = Callable[[], object]

LOCK_KEY = zlib.crc32(b"dubu-triage.worker")  # the advisory lock every worker asks for
LOCK_RETRY_SECONDS = 5.0
LOCK_CHECK_SECONDS = 30
JOB_OPTIONS: dict[str, Any] = {"max_instances": 1, "coalesce": True, "replace_existing": True}


class WorkerLockLostError(DubuTriageError):
    """The database connection that held the one-worker lock broke; the worker stopped."""


def poll_job(runtime: Runtime) -> None:
    """Fetch new mail from the mailbox (engineer C1's pipeline); errors are logged, not raised."""
    from app.ingest.fetch import poll_once

    try:
        poll_once(runtime)
    except Exception:  # one failed poll must not stop the worker
        log.exception("poll failed; the next poll tries again")


def send_job(runtime: Runtime) -> None:
    """Send what is due in the outbox; errors are logged, not raised."""
    from app.mail.outbox import send_pending

    try:
        send_pending(runtime)
    except Exception:  # the database may be briefly away; try next time
        log.exception("sending the outbox failed; the next run tries again")


def build_scheduler(runtime: Runtime, scheduler: BaseScheduler | None = None,
                    stop: threading.Event | None = None) -> BaseScheduler:
    """Add the worker's jobs (and the reports area's) to `scheduler`, a new blocking one;
    `stop` ends the IDLE job (setting it is the caller's part of shutting down)."""
    from app.reports.jobs import register_jobs

    settings = runtime.settings
    if scheduler is None:
        scheduler = BlockingScheduler(timezone=settings.instance.timezone)
    if settings.mailbox.host and settings.mailbox.idle:
        # One job for the worker's life: it loops until `stop`, so it runs once, at start.
        scheduler.add_job(watch_job, args=(runtime, stop or threading.Event()), id="watch",
                          name="watch the mailbox (IMAP IDLE)", misfire_grace_time=None,
                          **JOB_OPTIONS)
    elif settings.mailbox.host:
        scheduler.add_job(
            poll_job, "interval", args=(runtime,), id="poll", name="poll the mailbox",
            seconds=settings.mailbox.poll_seconds, next_run_time=runtime.now(),
            misfire_grace_time=settings.mailbox.poll_seconds, **JOB_OPTIONS,
        )
    else:
        log.info("no mailbox host configured: not polling")
    if settings.smtp.host:
        scheduler.add_job(
            send_job, "interval", args=(runtime,), id="send_outbox", name="send the outbox",
            seconds=settings.smtp.send_seconds, next_run_time=runtime.now(),
            misfire_grace_time=settings.smtp.send_seconds, **JOB_OPTIONS,
        )
    else:
        log.warning("no SMTP host configured: outgoing mail waits in the outbox")
    register_jobs(scheduler, runtime)
    return scheduler


def _sqlite_path(runtime: Runtime) -> Path | None:
    """The SQLite database file, or None for an in-memory database or another backend."""
    url = runtime.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


@contextmanager
def worker_lock(runtime: Runtime, stop: threading.Event) -> Iterator[LockCheck | None]:
    """Hold the one-worker lock while the block runs.

    Yields a check that raises when the lock has been lost, or None when the worker was asked
    to stop while it waited.
    """
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            query = text("SELECT pg_try_advisory_lock(:key)").bindparams(key=LOCK_KEY)
            acquired = _wait_for(lambda: bool(conn.execute(query).scalar()), stop)
            try:
                # A session lock lasts as long as its connection: a live connection holds it.
                yield (lambda: conn.execute(text("SELECT 1")).scalar()) if acquired else None
            finally:
                if acquired:
                    _unlock(conn)
        return
    path = _sqlite_path(runtime)
    if path is None:
        yield _held
        return
    with open(f"{path}.worker-lock", "a+b") as handle:

        def try_lock() -> bool:
            """Take the exclusive file lock if no other worker has it."""
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        # The lock goes with the file when it is closed, and cannot be lost before.
        yield _held if _wait_for(try_lock, stop) else None


def _held() -> None:
    """The check of a lock that cannot be lost."""


def _unlock(conn: Connection) -> None:
    """Release the advisory lock; a connection that is gone has released it already."""
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
    except SQLAlchemyError:
        log.warning("the worker lock's connection was gone at shutdown")


def _watch_lock(check: LockCheck, stop: threading.Event, lost: threading.Event) -> None:
    """Stop the worker when its lock is gone (a database restart): another may have taken it."""
    try:
        check()
    except Exception:  # any failure means we can no longer be sure we are the only worker
        log.exception("the worker lock was lost; stopping")
        lost.set()
        stop.set()


def _wait_for(try_lock: Any, stop: threading.Event) -> bool:
    """Try the lock until it is ours (True) or the worker is asked to stop (False)."""
    if try_lock():
        return True
    log.info("another worker holds the worker lock; waiting for it to stop")
    while not stop.wait(LOCK_RETRY_SECONDS):
        if try_lock():
            log.info("worker lock acquired")
            return True
    return False


def _install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT only set `stop`; the scheduler is shut down outside the handler."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers (tests run the worker in a thread)

    def handler(signum: int, _frame: Any) -> None:
        """Ask the worker to stop."""
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _shutdown_when_asked(scheduler: BaseScheduler, started: threading.Event,
                         stop: threading.Event) -> None:
    """Wait for `stop`, then shut the scheduler down, letting running jobs finish."""
    stop.wait()
    started.wait()
    scheduler.shutdown(wait=True)


def run_worker(runtime: Runtime, scheduler: BaseScheduler | None = None,
               stop: threading.Event | None = None) -> None:
    """Take the worker lock, then run the scheduler until SIGTERM/SIGINT (or `stop` is set)."""
    stop = stop or threading.Event()
    _install_signal_handlers(stop)
    lost = threading.Event()
    with worker_lock(runtime, stop) as check:
        if check is None:
            log.info("stopped before the worker lock was free")
            return
        scheduler = build_scheduler(runtime, scheduler, stop)
        scheduler.add_job(_watch_lock, "interval", args=(check, stop, lost), id="worker_lock",
                          name="check the worker lock", seconds=LOCK_CHECK_SECONDS, **JOB_OPTIONS)
        started = threading.Event()
        scheduler.add_listener(lambda _event: started.set(), EVENT_SCHEDULER_STARTED)
        stopper = threading.Thread(
            target=_shutdown_when_asked, args=(scheduler, started, stop), daemon=True
        )
        stopper.start()
        log.info("worker started: jobs %s", ", ".join(job.id for job in scheduler.get_jobs()))
        scheduler.start()  # blocks until the stopper has shut it down
        stopper.join()
    if lost.is_set():
        raise WorkerLockLostError("the worker lost its lock on the database and stopped")
    log.info("worker stopped")


def main(settings: Settings) -> None:
    """The worker process's entry point; refuses to start on a database without the schema."""
    runtime = open_runtime(settings)
    try:
        if not inspect(runtime.engine).has_table(OutboundMessage.__tablename__):
            where = runtime.engine.url.render_as_string(hide_password=True)
            raise ConfigError(f"{where}: no schema yet; run `dubu-triage init-db`")
        run_worker(runtime)
    finally:
        runtime.dispose()
