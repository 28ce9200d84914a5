"""The weekly escalation report: its figures, as pure functions over rows read from the database.

Which tickets count where is defined in docs/REPORTS.md; in short, for the ISO week [start, end)
in the municipality's timezone:

- counts by category, topic and severity, and abstentions: tickets *created* in the week;
- time to first response: tickets whose *first response* falls in the week;
- time to resolution: tickets *resolved* (or closed, whichever came first) in the week;
- the open backlog: tickets created before the end of the week and not resolved by then, aged
  in whole days at the end of the week.

Medians are the usual median (the mean of the middle two for an even count); the 90th
percentile is the nearest-rank one (the smallest value with at least 90 % at or below it), so
each figure is a time some ticket actually took.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from app.domain import Category, Severity, Topic
from app.errors import InvalidActionError

AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0–2 dage", 0, 2),
    ("3–7 dage", 3, 7),
    ("8–30 dage", 8, 30),
    ("over 30 dage", 31, None),
)


@dataclass(frozen=True)
class Week:
    """One ISO week in the municipality's timezone, with its bounds in UTC."""

    label: str  # 2024-W16
    first_day: date  # the Monday
    start: datetime  # Monday 00:00 local, as UTC
    end: datetime  # the next Monday 00:00 local, as UTC (exclusive)

    @property
    def last_day(self) -> date:
        """The Sunday of the week."""
        return self.first_day + timedelta(days=6)


def week_of_day(day: date, tz: str) -> Week:
    """The ISO week a calendar day falls in."""
    monday = day - timedelta(days=day.weekday())
    zone = ZoneInfo(tz)
    start = datetime.combine(monday, time(0), zone).astimezone(UTC)
    end = datetime.combine(monday + timedelta(days=7), time(0), zone).astimezone(UTC)
    year, number, _ = monday.isocalendar()
    return Week(label=f"{year}-W{number:02d}", first_day=monday, start=start, end=end)


def parse_week(label: str, tz: str) -> Week:
    """The week named like 2024-W16 (ISO 8601); a malformed name is an InvalidActionError."""
    try:
        monday = date.fromisoformat(f"{label.strip()}-1")
    except ValueError:
        raise InvalidActionError(f"not an ISO week: {label!r} (expected e.g. 2024-W16)") from None
    return week_of_day(monday, tz)


def week_containing(moment: datetime, tz: str) -> Week:
    """The week an instant falls in, on the municipality's clock."""
    return week_of_day(moment.astimezone(ZoneInfo(tz)).date(), tz)


def previous_week(moment: datetime, tz: str) -> Week:
    """The last complete week before the one `moment` falls in (what Monday's mail reports)."""
    return week_of_day(week_containing(moment, tz).first_day - timedelta(days=7), tz)


@dataclass(frozen=True)
class DurationStats:
    """How long something took for a set of tickets, in hours."""

    count: int
    median_hours: float | None
    p90_hours: float | None


def duration_stats(hours: Sequence[float]) -> DurationStats:
    """Median and nearest-rank 90th percentile of durations; None for both when there are none."""
    if not hours:
        return DurationStats(0, None, None)
    values = np.asarray(hours, dtype=float)
    return DurationStats(
        count=len(values),
        median_hours=float(np.median(values)),
        p90_hours=float(np.percentile(values, 90, method="inverted_cdf")),
    )


def age_bucket(days: int) -> str:
    """The backlog bucket of a ticket open for this many whole days."""
    for name, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return AGE_BUCKETS[0][0]  # a negative age (clock skew) counts as new


@dataclass(frozen=True)
class TicketFacts:
    """What the report needs to know of one ticket."""

    id: int
    subject: str
    category: str
    topic: str
    severity: str
    abstained: bool
    status: str
    created_at: datetime
    first_response_at: datetime | None
    done_at: datetime | None  # resolved or closed, whichever came first
    nc_case: str | None
    corrected: bool = False  # corrected by a superuser before the end of the week


@dataclass(frozen=True)
class ForwardLine:
    """A fault at the Netcompany service desk, as the report shows it."""

    ticket_id: int | None
    subject: str
    nc_case: str | None
    forwarded_at: datetime
    age_days: int  # since forwarding, to the end of the week or the resolution
    open: bool  # not resolved at the end of the week
    waiting: bool  # open, and no reply from the service desk yet
    status: str


@dataclass(frozen=True)
class KombitLine:
    """A change request sent to KOMBIT in the week."""

    ticket_id: int | None
    subject: str
    sent_at: datetime
    by: str


@dataclass(frozen=True)
class CorrectionFacts:
    """Which fields one correction changed."""

    ticket_id: int | None
    category_changed: bool
    topic_changed: bool
    severity_changed: bool


@dataclass(frozen=True)
class WeeklyReport:
    """Every figure of one week's report."""

    week: Week
    created: int
    by_category: dict[str, int]
    by_topic: dict[str, int]
    fault_severity: dict[str, int]
    first_response: DurationStats
    resolution: DurationStats
    forwards: tuple[ForwardLine, ...]
    kombit: tuple[KombitLine, ...]
    backlog: dict[str, int]
    noise: dict[str, int]
    quarantined: int
    abstained: int
    corrections: int
    corrections_by_field: dict[str, int]
    corrected_created: int  # tickets created in the week that were corrected by its end

    @property
    def backlog_total(self) -> int:
        """All tickets open at the end of the week."""
        return sum(self.backlog.values())

    @property
    def noise_total(self) -> int:
        """All suppressed mail of the week."""
        return sum(self.noise.values())

    @property
    def waiting_forwards(self) -> tuple[ForwardLine, ...]:
        """Faults at the service desk with no answer yet."""
        return tuple(line for line in self.forwards if line.waiting)


def _hours(later: datetime, earlier: datetime) -> float:
    """The time between two instants, in hours."""
    return (later - earlier).total_seconds() / 3600.0


def _in(moment: datetime | None, week: Week) -> bool:
    """True when an instant falls inside the week."""
    return moment is not None and week.start <= moment < week.end


def _counts(values: Sequence[str], labels: Sequence[str]) -> dict[str, int]:
    """Counts of each label in a fixed order (zeros kept), unknown labels after them."""
    counter = Counter(values)
    result = {label: counter.pop(label, 0) for label in labels}
    result.update(sorted(counter.items()))
    return result


def compute_report(
    week: Week,
    tickets: Sequence[TicketFacts],
    forwards: Sequence[ForwardLine],
    kombit: Sequence[KombitLine],
    noise_kinds: Sequence[str],
    quarantined: int,
    corrections: Sequence[CorrectionFacts],
) -> WeeklyReport:
    """Turn the week's rows into the report's figures (no database, no clock)."""
    created = [t for t in tickets if _in(t.created_at, week)]
    responded = [t for t in tickets if _in(t.first_response_at, week)]
    done = [t for t in tickets if _in(t.done_at, week)]
    open_at_end = [
        t for t in tickets
        if t.created_at < week.end and (t.done_at is None or t.done_at >= week.end)
    ]
    ages = [age_bucket(int((week.end - t.created_at) // timedelta(days=1))) for t in open_at_end]
    return WeeklyReport(
        week=week,
        created=len(created),
        by_category=_counts([t.category for t in created], [c.value for c in Category]),
        by_topic=_counts([t.topic for t in created], [t.value for t in Topic]),
        fault_severity=_counts(
            [t.severity for t in created if t.category == Category.FAULT.value],
            [s.value for s in Severity],
        ),
        first_response=duration_stats(
            [_hours(t.first_response_at, t.created_at) for t in responded if t.first_response_at]
        ),
        resolution=duration_stats([_hours(t.done_at, t.created_at) for t in done if t.done_at]),
        forwards=tuple(sorted(forwards, key=lambda f: f.forwarded_at)),
        kombit=tuple(sorted(kombit, key=lambda k: k.sent_at)),
        backlog=_counts(ages, [name for name, _, _ in AGE_BUCKETS]),
        noise=dict(sorted(Counter(noise_kinds).items())),
        quarantined=quarantined,
        abstained=sum(1 for t in created if t.abstained),
        corrections=len(corrections),
        corrections_by_field={
            "category": sum(1 for c in corrections if c.category_changed),
            "topic": sum(1 for c in corrections if c.topic_changed),
            "severity": sum(1 for c in corrections if c.severity_changed),
        },
        corrected_created=sum(1 for t in created if t.corrected),
    )
