"""The weekly report over a generated quarter plus the 240 labelled dubu-dev mails imported
through the real pipeline (April to June 2024): every mail counts in the week it arrived, only."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.ingest.pipeline import ingest_raw
from app.models import InboundMessage
from app.reports.collect import build_weekly_report
from app.reports.render import render_text
from app.reports.weekly import week_containing, week_of_day
from app.runtime import Runtime
from app.settings import Settings
from tests.integration.test_report_history import generate_quarter

TZ = "Europe/Copenhagen"


@pytest.fixture
def settings(make_settings: Any, sqlite_url: str) -> Settings:
    """SQLite is enough here; the report's queries are checked on both backends elsewhere."""
    return make_settings(database={"url": sqlite_url})


def test_dubu_dev_mails_counted_in_their_weeks(runtime: Runtime, dubu_dev: Path) -> None:
    """Tickets, noise and quarantine per week add up to exactly what the pipeline made."""
    runtime.now = lambda: datetime(2024, 7, 1, 6, tzinfo=UTC)
    with runtime.sessions.begin() as session:  # a quarter of generated history underneath
        generated = generate_quarter(session, date(2024, 4, 8))
    made: Counter[tuple[str, str]] = Counter()
    for path in sorted(dubu_dev.glob("*.eml")):
        outcome = ingest_raw(runtime, path.read_bytes(), source="import")
        made[(outcome.kind.value, "")] += 1
    with runtime.sessions() as session:
        weeks = Counter(
            (kind, week_containing(at, TZ).label)
            for kind, at in session.execute(select(InboundMessage.kind, InboundMessage.received_at))
        )
        first = min(at for at in session.scalars(select(InboundMessage.received_at)))
        week = week_containing(first, TZ)
        totals: Counter[str] = Counter()
        while week.start < runtime.now():
            report = build_weekly_report(session, runtime.settings, week)
            assert report.created == weeks[("ticket", week.label)]
            assert report.noise_total == weeks[("noise", week.label)]
            assert report.quarantined == weeks[("quarantined", week.label)]
            assert sum(report.by_topic.values()) == report.created
            totals.update(created=report.created, noise=report.noise_total,
                          quarantined=report.quarantined)
            assert render_text(report, runtime.settings)
            week = week_of_day(week.first_day + timedelta(days=7), TZ)
    assert totals["created"] == made[("ticket", "")] + generated
    assert made[("ticket", "")] > 100
    assert totals["noise"] == sum(n for (kind, _), n in weeks.items() if kind == "noise")
    assert totals["noise"] > made[("noise", "")] > 10  # the corpus's noise and the generated
    assert sum(made.values()) == 240
    assert week.first_day >= date(2024, 6, 24)
