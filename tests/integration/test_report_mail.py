"""The worker's report jobs with the clock driven by the test: the weekly report mail and the
hypercare digest arrive at a real SMTP server at the scheduled times, once per week or day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from app.mail.outbox import send_pending
from app.models import JobRun
from app.reports.jobs import (
    DIGEST_JOB_ID,
    RETENTION_JOB_ID,
    WEEKLY_JOB_ID,
    digest_trigger,
    register_jobs,
)
from app.runtime import Runtime
from app.settings import Settings
from tests.integration.test_report_history import add_ticket, local

CPH = ZoneInfo("Europe/Copenhagen")


@pytest.fixture
def settings(make_settings: Any, db_url: str, smtp_settings: dict[str, Any]) -> Settings:
    """Korsbæk settings on the test database, mail to the test SMTP server."""
    return make_settings(database={"url": db_url}, smtp=smtp_settings)


def scheduled(runtime: Runtime) -> dict[str, Any]:
    """The jobs register_jobs adds, by id, on a scheduler that is never started."""
    scheduler = BackgroundScheduler(timezone=CPH)
    register_jobs(scheduler, runtime)
    return {job.id: job for job in scheduler.get_jobs()}


def fire(runtime: Runtime, job: Any, at: datetime) -> Any:
    """Run a job as the scheduler would at `at`, with the runtime's clock set to it."""
    runtime.now = lambda: at
    return job.func(*job.args, **job.kwargs)


def test_weekly_trigger_is_monday_seven_copenhagen_time_across_dst(runtime: Runtime) -> None:
    """07:00 on the municipality's clock is 06:00 UTC in winter and 05:00 UTC in summer."""
    trigger = scheduled(runtime)[WEEKLY_JOB_ID].trigger
    before_dst = trigger.get_next_fire_time(None, datetime(2024, 3, 20, 12, tzinfo=CPH))
    after_dst = trigger.get_next_fire_time(None, datetime(2024, 3, 27, 12, tzinfo=CPH))
    assert before_dst.astimezone(UTC) == datetime(2024, 3, 25, 6, tzinfo=UTC)
    assert after_dst.astimezone(UTC) == datetime(2024, 4, 1, 5, tzinfo=UTC)
    assert RETENTION_JOB_ID in scheduled(runtime)


def test_weekly_mail_arrives_once_per_week(runtime: Runtime, smtp_server: Any) -> None:
    """At Monday 07:00 last week's report goes to the system responsible and the owner, once."""
    with runtime.sessions.begin() as session:
        add_ticket(session, created_at=local(date(2024, 4, 16), 9), category="fault",
                   severity="critical", topic="oekonomi")
        add_ticket(session, created_at=local(date(2024, 4, 23), 9))
    job = scheduled(runtime)[WEEKLY_JOB_ID]
    first = job.trigger.get_next_fire_time(None, datetime(2024, 4, 18, 15, tzinfo=CPH))
    assert first == datetime(2024, 4, 22, 7, tzinfo=CPH)
    assert fire(runtime, job, first) == "2024-W16"
    assert send_pending(runtime).sent == 1
    [mail] = smtp_server.wait_for(1)
    assert sorted(a.strip() for a in mail["To"].split(",")) == [
        "birgitte.holm@korsbaek.dk", "mads.kjaer@korsbaek.dk"]
    assert "uge 16 2024" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()
    assert "Nye sager: 1" in body and "fejl 1" in body and "kritisk 1" in body
    assert "/reports/weekly?week=2024-W16" in body
    assert mail["Auto-Submitted"] == "auto-generated"
    # A coalesced second firing, or a restarted worker, sends nothing more.
    assert fire(runtime, job, first + timedelta(minutes=5)) is None
    assert send_pending(runtime).sent == 0
    second = job.trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert second == datetime(2024, 4, 29, 7, tzinfo=CPH)
    assert fire(runtime, job, second) == "2024-W17"
    assert send_pending(runtime).sent == 1
    assert len(smtp_server.wait_for(2)) == 2
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(JobRun.id))) == 2


def test_digest_only_inside_hypercare(runtime: Runtime, smtp_server: Any) -> None:
    """From 8 April to 3 May 2024 at 08:30 each day a digest goes to the superusers; not after."""
    with runtime.sessions.begin() as session:
        add_ticket(session, created_at=local(date(2024, 4, 7), 8), category="fault",
                   severity="high", topic="breve")
        add_ticket(session, created_at=local(date(2024, 4, 8), 7))
    job = scheduled(runtime)[DIGEST_JOB_ID]
    times, moment = [], datetime(2024, 4, 1, tzinfo=CPH)
    while (moment := job.trigger.get_next_fire_time(None, moment)) is not None:
        times.append(moment)
        moment += timedelta(seconds=1)
    assert times[0] == datetime(2024, 4, 8, 8, 30, tzinfo=CPH)
    assert times[-1] == datetime(2024, 5, 3, 8, 30, tzinfo=CPH) and len(times) == 26
    assert fire(runtime, job, times[0]) == "2024-04-08"
    assert fire(runtime, job, times[0] + timedelta(hours=2)) is None  # once a day
    # The job guards itself too: a day outside the dates sends nothing, even when run.
    assert fire(runtime, job, datetime(2024, 5, 4, 8, 30, tzinfo=CPH)) is None
    assert fire(runtime, job, datetime(2024, 4, 7, 8, 30, tzinfo=CPH)) is None
    runtime.now = lambda: times[0] + timedelta(minutes=1)
    assert send_pending(runtime).sent == 1
    [mail] = smtp_server.wait_for(1)
    assert sorted(a.strip() for a in mail["To"].split(",")) == [
        "hanne.dahl@korsbaek.dk", "jonas.friis@korsbaek.dk", "lene.mortensen@korsbaek.dk",
        "peter.lund@korsbaek.dk"]
    body = mail.get_body(("plain",)).get_content()
    assert "08.04.2024" in mail["Subject"]
    assert "Nye sager siden i går kl. 08:30: 1" in body  # the 7 April ticket came before
    assert "Åbne kritiske og høje fejl: 1" in body and "DUBU-1  høj" in body


def test_no_digest_job_without_hypercare_dates(make_settings: Any, runtime: Runtime) -> None:
    """Without hypercare dates there is no digest trigger at all."""
    assert digest_trigger(make_settings(hypercare={"start": None, "end": None})) is None


def test_configured_recipients_replace_the_default(make_settings: Any, runtime: Runtime) -> None:
    """`reports.recipients` decides who gets the report; the outbox row says so."""
    from app.models import OutboundMessage
    from app.reports.sending import send_weekly_report

    runtime.settings = make_settings(database={"url": runtime.settings.database_url},
                                     reports={"recipients": ["Ledelse@Korsbaek.dk"]})
    runtime.now = lambda: datetime(2024, 4, 22, 7, tzinfo=CPH)
    assert send_weekly_report(runtime) == "2024-W16"
    with runtime.sessions() as session:
        row = session.scalars(select(OutboundMessage)).one()
    assert row.to_addrs == ["ledelse@korsbaek.dk"] and row.kind == "weekly_report"
    assert row.subject == "DUBU-support: eskalationsrapport for uge 16 2024 (15.04.2024–21.04.2024)"


def test_worker_started_late_catches_up_once(runtime: Runtime, smtp_server: Any) -> None:
    """A worker down all Monday sends last week's report when it starts; not before Monday
    07:00, and not again when the regular job already sent it."""
    from app.reports.jobs import CATCH_UP_JOB_ID

    job = scheduled(runtime)[CATCH_UP_JOB_ID]
    assert fire(runtime, job, datetime(2024, 4, 22, 6, 59, tzinfo=CPH)) is None  # not due yet
    assert fire(runtime, job, datetime(2024, 4, 24, 10, tzinfo=CPH)) == "2024-W16"
    assert fire(runtime, job, datetime(2024, 4, 25, 10, tzinfo=CPH)) is None  # sent already
    assert send_pending(runtime).sent == 1
    assert "uge 16 2024" in smtp_server.wait_for(1)[0]["Subject"]
