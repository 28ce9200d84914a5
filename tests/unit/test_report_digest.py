"""Hypercare dates and the digest's schedule, without a database."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.reports.digest import in_hypercare
from app.reports.jobs import digest_trigger, retention_trigger

CPH = ZoneInfo("Europe/Copenhagen")


def test_hypercare_includes_both_end_dates(make_settings: Any) -> None:
    """8 April to 3 May 2024: the first and last day count, the days around them do not."""
    settings = make_settings()
    assert settings.hypercare.start == date(2024, 4, 8)
    assert not in_hypercare(settings, date(2024, 4, 7))
    assert in_hypercare(settings, date(2024, 4, 8)) and in_hypercare(settings, date(2024, 5, 3))
    assert not in_hypercare(settings, date(2024, 5, 4))
    assert not in_hypercare(make_settings(hypercare={"start": None, "end": None}), date(2024, 4, 9))


def test_digest_fires_at_the_configured_local_time(make_settings: Any) -> None:
    """A digest time of 08:15 means 08:15 in Copenhagen on each hypercare day, then never."""
    trigger = digest_trigger(make_settings(hypercare={"digest_time": time(8, 15)}))
    assert trigger is not None
    first = trigger.get_next_fire_time(None, datetime(2024, 1, 1, tzinfo=CPH))
    assert first == datetime(2024, 4, 8, 8, 15, tzinfo=CPH)
    last = trigger.get_next_fire_time(None, datetime(2024, 5, 3, 8, 0, tzinfo=CPH))
    assert last == datetime(2024, 5, 3, 8, 15, tzinfo=CPH)
    assert trigger.get_next_fire_time(None, last + timedelta(seconds=1)) is None


def test_retention_runs_nightly_local_time(make_settings: Any) -> None:
    """Retention at 02:30 local time every day."""
    trigger = retention_trigger(make_settings())
    fire = trigger.get_next_fire_time(None, datetime(2024, 10, 26, 12, tzinfo=CPH))
    assert fire == datetime(2024, 10, 27, 2, 30, tzinfo=CPH)
