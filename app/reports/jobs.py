"""Scheduled jobs of the reports area: the weekly report, the hypercare digest, retention.

The triggers run on the municipality's clock (settings.instance.timezone), so "Monday 07:00"
stays 07:00 across daylight-saving changes. Each job also guards itself (a JobRun per week or
day; hypercare dates checked inside), so a coalesced or repeated firing does no harm.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from app.reports.digest import send_hypercare_digest
from app.reports.retention import run_retention
from app.reports.sending import send_weekly_report
from app.reports.weekly import week_containing
from app.runtime import Runtime
from app.settings import Settings

log = logging.getLogger(__name__)

WEEKLY_JOB_ID = "reports.weekly"
CATCH_UP_JOB_ID = "reports.weekly_catch_up"
DIGEST_JOB_ID = "reports.hypercare_digest"
RETENTION_JOB_ID = "reports.retention"
MISFIRE_GRACE = 6 * 3600  # a worker restarted within six hours still sends the morning's mail


def weekly_trigger(settings: Settings) -> CronTrigger:
    """Every week on the configured day and time, local time."""
    at = settings.reports.weekly_time
    return CronTrigger(day_of_week=settings.reports.weekly_day, hour=at.hour, minute=at.minute,
                       second=at.second, timezone=ZoneInfo(settings.instance.timezone))


def digest_trigger(settings: Settings) -> CronTrigger | None:
    """Daily at the digest time from the first to the last hypercare day; None without dates."""
    start, end = settings.hypercare.start, settings.hypercare.end
    if start is None or end is None:
        return None
    zone = ZoneInfo(settings.instance.timezone)
    at = settings.hypercare.digest_time
    return CronTrigger(
        hour=at.hour, minute=at.minute, second=at.second, timezone=zone,
        start_date=datetime.combine(start, time(0), zone),
        end_date=datetime.combine(end + timedelta(days=1), time(0), zone),
    )


def retention_trigger(settings: Settings) -> CronTrigger:
    """Daily at the retention time, local time."""
    at = settings.retention.run_time
    return CronTrigger(hour=at.hour, minute=at.minute, second=at.second,
                       timezone=ZoneInfo(settings.instance.timezone))


def weekly_catch_up(runtime: Runtime) -> str | None:
    """At worker start: send last week's report if this week's time passed while it was down.

    The cron trigger forgives a late start only within MISFIRE_GRACE; a worker down over the
    whole of Monday morning would otherwise skip a week. JobRun keeps this from sending twice.
    """
    settings, now = runtime.settings, runtime.now()
    zone = ZoneInfo(settings.instance.timezone)
    monday = week_containing(now, settings.instance.timezone).first_day
    due = weekly_trigger(settings).get_next_fire_time(None, datetime.combine(monday, time(0), zone))
    if due is None or now < due:
        return None
    return send_weekly_report(runtime)


def retention_job(runtime: Runtime) -> int:
    """The worker's daily retention run; the number of tickets deleted."""
    with runtime.sessions.begin() as session:
        result = run_retention(session, runtime.settings, runtime.now())
    if result.tickets:
        log.info("retention deleted %d tickets and %d blobs", len(result.tickets), result.blobs)
    return len(result.tickets)


def register_jobs(scheduler: Any, runtime: Runtime) -> None:
    """Add this area's jobs to the worker's scheduler (an APScheduler 3 scheduler)."""
    settings = runtime.settings
    options = {"max_instances": 1, "coalesce": True, "replace_existing": True,
               "misfire_grace_time": MISFIRE_GRACE}
    scheduler.add_job(send_weekly_report, weekly_trigger(settings), args=[runtime],
                      id=WEEKLY_JOB_ID, name="weekly escalation report", **options)
    scheduler.add_job(weekly_catch_up, "date", args=[runtime], id=CATCH_UP_JOB_ID,
                      name="weekly report catch-up", max_instances=1, coalesce=True,
                      replace_existing=True, misfire_grace_time=None)
    digest = digest_trigger(settings)
    if digest is not None:
        scheduler.add_job(send_hypercare_digest, digest, args=[runtime],
                          id=DIGEST_JOB_ID, name="hypercare digest", **options)
    scheduler.add_job(retention_job, retention_trigger(settings), args=[runtime],
                      id=RETENTION_JOB_ID, name="retention", **options)
