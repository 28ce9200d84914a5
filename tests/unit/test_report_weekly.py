"""The weekly report's figures on a small case computed by hand (docs/REPORTS.md defines them)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.errors import InvalidActionError
from app.reports.weekly import (
    CorrectionFacts,
    TicketFacts,
    age_bucket,
    compute_report,
    duration_stats,
    parse_week,
    previous_week,
    week_containing,
)

TZ = "Europe/Copenhagen"
W16 = parse_week("2024-W16", TZ)  # Monday 15 April 2024 00:00 CEST = 14 April 22:00 UTC


def utc(day: int, hour: int, month: int = 4) -> datetime:
    """An instant in 2024, UTC."""
    return datetime(2024, month, day, hour, tzinfo=UTC)


def ticket(number: int, created: datetime, response_h: float | None, done_h: float | None,
           category: str = "question", topic: str = "sagsbehandling", severity: str = "normal",
           abstained: bool = False, corrected: bool = False) -> TicketFacts:
    """A ticket whose first response and resolution come so many hours after it was created."""
    return TicketFacts(
        id=number, subject=f"sag {number}", category=category, topic=topic, severity=severity,
        abstained=abstained, status="open", created_at=created,
        first_response_at=None if response_h is None else created + timedelta(hours=response_h),
        done_at=None if done_h is None else created + timedelta(hours=done_h),
        nc_case=None, corrected=corrected,
    )


SIX = [
    ticket(1, utc(15, 8), 1, 5, "question", "sagsbehandling"),
    ticket(2, utc(15, 9), 2, 30, "fault", "oekonomi", "critical", corrected=True),
    ticket(3, utc(16, 10), 3, None, "fault", "breve", "high"),
    ticket(4, utc(17, 7), 4, 48, "change_request", "opsaetning"),
    ticket(5, utc(18, 12), 10, None, "question", "adgang", abstained=True),
    ticket(6, utc(19, 6), 24, 72, "fault", "sagsbehandling"),  # resolved after the week
]
OLD_ANSWERED = ticket(7, utc(10, 10), 120, None)  # created the week before, answered in W16
OLD_OPEN = ticket(8, utc(1, 10, month=3), None, None, "fault", "andet", "high")
DONE_BEFORE = ticket(9, utc(1, 10, month=3), 2, 24 * 30)  # resolved 31 March: in no figure


def test_week_bounds_follow_copenhagen_time() -> None:
    """An ISO week starts Monday 00:00 local time; in April that is 22:00 UTC on Sunday."""
    assert W16.start == datetime(2024, 4, 14, 22, tzinfo=UTC)
    assert W16.end == datetime(2024, 4, 21, 22, tzinfo=UTC)
    assert (W16.first_day, W16.last_day) == (date(2024, 4, 15), date(2024, 4, 21))
    assert week_containing(datetime(2024, 4, 14, 22, 30, tzinfo=UTC), TZ).label == "2024-W16"
    assert week_containing(datetime(2024, 4, 14, 21, 30, tzinfo=UTC), TZ).label == "2024-W15"
    # The week of the switch to summer time is 167 hours long.
    assert parse_week("2024-W13", TZ).end - parse_week("2024-W13", TZ).start == timedelta(hours=167)
    assert previous_week(datetime(2024, 4, 22, 5, tzinfo=UTC), TZ).label == "2024-W16"
    assert parse_week("2021-W01", TZ).first_day == date(2021, 1, 4)


def test_malformed_week_is_a_clear_error() -> None:
    """A typo in --week names what was expected."""
    with pytest.raises(InvalidActionError, match="2024-W16"):
        parse_week("2024-16", TZ)


def test_median_and_nearest_rank_p90() -> None:
    """Median of an even count is the mean of the middle two; p90 is a value that occurred."""
    assert duration_stats([1, 2, 3, 4, 10, 24]).median_hours == 3.5
    assert duration_stats([1, 2, 3, 4, 10, 24]).p90_hours == 24
    assert duration_stats([5, 30, 48]).median_hours == 30
    assert duration_stats([5, 30, 48]).p90_hours == 48
    ten = duration_stats(list(range(1, 11)))
    assert (ten.median_hours, ten.p90_hours) == (5.5, 9)
    assert duration_stats([]).count == 0 and duration_stats([]).median_hours is None


@pytest.mark.parametrize(("days", "bucket"), [(0, "0–2 dage"), (2, "0–2 dage"), (3, "3–7 dage"),
                                              (7, "3–7 dage"), (8, "8–30 dage"),
                                              (30, "8–30 dage"), (31, "over 30 dage")])
def test_age_buckets(days: int, bucket: str) -> None:
    """The backlog's age buckets meet without a gap or an overlap."""
    assert age_bucket(days) == bucket


def test_figures_of_six_tickets_by_hand() -> None:
    """Counts, response times and backlog of a small week, each computed by hand."""
    report = compute_report(
        W16, [*SIX, OLD_ANSWERED, OLD_OPEN, DONE_BEFORE], forwards=[], kombit=[],
        noise_kinds=["autoreply", "autoreply", "bounce"], quarantined=1,
        corrections=[CorrectionFacts(2, True, False, True), CorrectionFacts(7, False, True, False)],
    )
    assert report.created == 6
    assert report.by_category == {"question": 2, "fault": 3, "change_request": 1}
    assert report.by_topic["sagsbehandling"] == 2 and report.by_topic["ledelsesinformation"] == 0
    assert report.fault_severity == {"critical": 1, "high": 1, "normal": 1}
    # First responses in the week: 1, 2, 3, 4, 10, 24 h (tickets 1-6) and 120 h (ticket 7).
    assert report.first_response.count == 7
    assert report.first_response.median_hours == 4
    assert report.first_response.p90_hours == 120  # rank ceil(0.9 * 7) = 7
    # Resolved in the week: tickets 1, 2 and 4 after 5, 30 and 48 h; ticket 6 only after it.
    assert (report.resolution.count, report.resolution.median_hours,
            report.resolution.p90_hours) == (3, 30, 48)
    # Open at Sunday 24:00: ticket 6 (2 days 16 h), 5 (3 d 10 h), 3 (5 d 12 h), 7 (11 d 12 h),
    # 8 (51 days).
    assert report.backlog == {"0–2 dage": 1, "3–7 dage": 2, "8–30 dage": 1, "over 30 dage": 1}
    assert report.noise == {"autoreply": 2, "bounce": 1} and report.quarantined == 1
    assert report.abstained == 1
    assert report.corrections == 2
    assert report.corrections_by_field == {"category": 1, "topic": 1, "severity": 1}
    assert report.corrected_created == 1
