"""The worker process: its jobs, one worker per database, and a clean stop on SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import text

from app import worker
from app.db import make_engine, make_sessionmaker
from app.ingest import watch
from app.mail.outbox import enqueue
from app.runtime import Runtime
from tests.conftest import ROOT, example_config


def _runtime(settings: Any) -> Runtime:
    """A runtime of its own, as a separate worker process would have."""
    engine = make_engine(settings.database_url)
    return Runtime(settings, engine, make_sessionmaker(engine))


def test_jobs_run_one_at_a_time_and_coalesce(make_settings, sqlite_url: str) -> None:
    """Poll and send (and the reports' jobs) never overlap themselves and collapse missed runs."""
    settings = make_settings(database={"url": sqlite_url},
                             mailbox={"host": "imap.example", "poll_seconds": 45, "idle": False},
                             smtp={"send_seconds": 20})
    runtime = _runtime(settings)
    scheduler = worker.build_scheduler(runtime, BlockingScheduler(timezone="Europe/Copenhagen"))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    runtime.dispose()
    assert {"poll", "send_outbox"} <= set(jobs)
    assert jobs["poll"].trigger.interval == timedelta(seconds=45)
    assert jobs["send_outbox"].trigger.interval == timedelta(seconds=20)
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values()), jobs


def test_no_poll_job_without_a_mailbox_and_no_send_job_without_smtp(make_settings,
                                                                     sqlite_url: str) -> None:
    """Without a mailbox host the worker does not poll; without an SMTP host it does not send."""
    settings = make_settings(database={"url": sqlite_url}, mailbox={"host": ""})
    runtime = _runtime(settings)
    ids = {job.id for job in worker.build_scheduler(runtime, BlockingScheduler()).get_jobs()}
    runtime.dispose()
    assert "send_outbox" in ids and "poll" not in ids
    settings = make_settings(database={"url": sqlite_url}, smtp={"host": ""})
    runtime = _runtime(settings)
    ids = {job.id for job in worker.build_scheduler(runtime, BlockingScheduler()).get_jobs()}
    runtime.dispose()
    assert "watch" in ids and "send_outbox" not in ids


def test_with_idle_the_mailbox_is_watched_by_one_job_that_runs_from_the_start(
        make_settings, sqlite_url: str) -> None:
    """mailbox.idle (the default): one long-running watch job, started at once, no poll job;
    it ends when the worker's stop event is set."""
    settings = make_settings(database={"url": sqlite_url}, mailbox={"host": "imap.example"})
    runtime = _runtime(settings)
    stop = threading.Event()
    jobs = {job.id: job for job in worker.build_scheduler(runtime, BlockingScheduler(),
                                                          stop).get_jobs()}
    runtime.dispose()
    assert "watch" in jobs and "poll" not in jobs
    assert jobs["watch"].func is worker.watch_job and jobs["watch"].args[1] is stop
    assert jobs["watch"].max_instances == 1 and jobs["watch"].misfire_grace_time is None


def test_reconnecting_backs_off_up_to_five_minutes() -> None:
    """The first reconnect is quick, a server that stays away is tried ever more rarely."""
    waits = [watch._backoff(n) for n in range(12)]
    assert waits[0] == 0 and waits[1] <= 2
    assert waits == sorted(waits) and waits[-1] == 300


def _wait(condition: Any, timeout: float = 10.0) -> bool:
    """Wait until `condition()` is true; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_second_worker_waits_for_the_first(make_settings, db_url: str, smtp_settings,
                                             monkeypatch, caplog) -> None:
    """Two workers on one database: the second waits, and takes over when the first stops."""
    monkeypatch.setattr(worker, "LOCK_RETRY_SECONDS", 0.1)
    caplog.set_level(logging.INFO, logger="app.worker")
    settings = make_settings(database={"url": db_url}, mailbox={"host": ""}, smtp=smtp_settings)
    runtimes = [_runtime(settings), _runtime(settings)]
    schedulers = [BlockingScheduler(), BlockingScheduler()]
    stops = [threading.Event(), threading.Event()]
    threads = [
        threading.Thread(target=worker.run_worker, args=(rt, sched, stop), daemon=True)
        for rt, sched, stop in zip(runtimes, schedulers, stops)
    ]
    threads[0].start()
    assert _wait(lambda: schedulers[0].running)
    threads[1].start()
    assert _wait(lambda: "another worker holds the worker lock" in caplog.text)
    time.sleep(0.3)
    assert not schedulers[1].running
    stops[0].set()
    threads[0].join(10)
    assert not threads[0].is_alive()
    assert _wait(lambda: schedulers[1].running), "the second worker never took over"
    stops[1].set()
    threads[1].join(10)
    assert not threads[1].is_alive()
    for rt in runtimes:
        rt.dispose()


def _config(tmp_path: Path, db_url: str, smtp_server: Any) -> Path:
    """A configuration file for a worker process: the test database and SMTP server."""
    data = example_config()
    data["instance"].update(path=str(tmp_path / "instance"), secure_cookies=False)
    data["database"]["url"] = db_url
    data["mailbox"]["host"] = ""
    data["triage"]["rules_dir"] = str(ROOT / "routing_rules")
    data["smtp"].update(host=smtp_server.host, port=smtp_server.port, security="none",
                        username="", password="", send_seconds=1)
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(data))
    return path


@pytest.mark.slow
def test_worker_process_sends_mail_and_stops_on_sigterm(make_settings, db_url: str, smtp_server,
                                                        tmp_path: Path) -> None:
    """`dubu-triage worker` sends queued mail, and exits 0 within seconds of SIGTERM."""
    settings = make_settings(database={"url": db_url})
    runtime = _runtime(settings)
    with runtime.sessions.begin() as session:
        enqueue(session, settings, kind="reply", to=["anne.hansen@korsbaek.dk"],
                subject="Svar på DUBU-1", body_text="Hej\n",
                now=datetime.now(UTC) - timedelta(seconds=1))
    runtime.dispose()
    executable = Path(sys.executable).parent / "dubu-triage"
    command = [str(executable), "--config", str(_config(tmp_path, db_url, smtp_server)), "worker"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        mails = smtp_server.wait_for(1, timeout=20)
        assert [m["Subject"] for m in mails] == ["Svar på DUBU-1"]
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, stderr = process.communicate(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "worker started" in stderr and "worker stopped" in stderr


def test_the_worker_refuses_a_database_without_schema(tmp_path: Path) -> None:
    """Started before `init-db`, the worker says so and exits 2 instead of failing every job."""
    from click.testing import CliRunner

    from app.cli import main as cli

    data = example_config()
    data["instance"]["path"] = str(tmp_path / "instance")
    data["database"]["url"] = f"sqlite:///{tmp_path / 'empty.db'}"
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps(data))
    result = CliRunner().invoke(cli, ["--config", str(config), "worker"])
    assert result.exit_code == 2
    assert "dubu-triage init-db" in result.output


@pytest.mark.postgres
def test_a_worker_that_loses_its_lock_stops(make_settings, _postgres_database: str,
                                            smtp_settings, monkeypatch) -> None:
    """If the connection holding the advisory lock dies, the worker stops with an error."""
    db_url = _postgres_database  # the advisory lock is PostgreSQL's; SQLite's cannot be lost
    monkeypatch.setattr(worker, "LOCK_CHECK_SECONDS", 1)
    settings = make_settings(database={"url": db_url}, mailbox={"host": ""}, smtp=smtp_settings)
    runtime = _runtime(settings)
    scheduler, errors = BlockingScheduler(), []

    def run() -> None:
        """Run the worker, keeping what it raises."""
        try:
            worker.run_worker(runtime, scheduler, threading.Event())
        except Exception as error:  # noqa: BLE001 - the test inspects it
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert _wait(lambda: scheduler.running)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        killed = conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND objid = CAST(:key AS oid) AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ), {"key": worker.LOCK_KEY}).scalars().all()
    engine.dispose()
    assert killed == [True]
    thread.join(15)
    runtime.dispose()
    assert not thread.is_alive()
    assert [type(e) for e in errors] == [worker.WorkerLockLostError]


def test_a_failing_poll_is_logged_and_the_worker_goes_on(make_settings, sqlite_url: str,
                                                         caplog) -> None:
    """An unreachable mailbox makes one poll fail with a log line; nothing escapes the job."""
    from tests.conftest import free_port

    caplog.set_level(logging.ERROR, logger="app.worker")
    settings = make_settings(database={"url": sqlite_url}, mailbox={
        "host": "127.0.0.1", "port": free_port(), "security": "none", "timeout": 2})
    runtime = _runtime(settings)
    worker.poll_job(runtime)
    runtime.dispose()
    assert "poll failed" in caplog.text
