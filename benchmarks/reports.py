"""Weekly report speed: building the figures and drawing the page over generated history.

Run from the project root:

    .venv/bin/python benchmarks/reports.py               # one quarter (~500 tickets)
    .venv/bin/python benchmarks/reports.py --copies 10   # ten quarters on top (~5,000 tickets)

It fills a fresh SQLite database with the generated quarter of tests/integration/
test_report_history.py (13 weeks from go-live, 8 April 2024; `--copies` quarters with other
seeds), then times for an early and a late week: (1) `build_weekly_report` (the queries and
figures), (2) `render_html` (the three matplotlib SVG charts and the page), (3) `render_text`.
The best of `--rounds` is reported; the first chart of a process also pays matplotlib's start-up,
reported separately.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import init_db, make_engine, make_sessionmaker, sync_people
from app.reports.collect import build_weekly_report
from app.reports.render import render_html, render_text
from app.reports.weekly import parse_week
from app.settings import settings_from_dict
from tests.integration.test_report_history import generate_quarter


def best_ms(function, rounds: int) -> float:  # type: ignore[no-untyped-def]
    """The fastest of `rounds` calls, in milliseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main() -> None:
    """Fill the database, then time each week's report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1, help="quarters of history to generate")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with (ROOT / "config.example.toml").open("rb") as handle:
        data = tomllib.load(handle)
    folder = Path(tempfile.mkdtemp(prefix="dubu-report-bench-"))
    data["database"]["url"] = f"sqlite:///{folder / 'bench.db'}"
    data["instance"]["path"] = str(folder)
    settings = settings_from_dict(data, source="benchmark")
    engine = make_engine(settings.database_url)
    init_db(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        sync_people(session, settings)
        tickets = sum(generate_quarter(session, date(2024, 4, 8), seed=7 + k)
                      for k in range(args.copies))
    print(f"{tickets} tickets: {args.copies} generated quarter(s) over the same 13 weeks (SQLite)")
    with sessions() as session:
        start = time.perf_counter()
        first = parse_week("2024-W15", settings.instance.timezone)
        render_html(build_weekly_report(session, settings, first), settings)
        elapsed = 1000 * (time.perf_counter() - start)
        print(f"first report of the process (matplotlib start-up): {elapsed:.0f} ms")
        for label in ("2024-W16", "2024-W27"):
            week = parse_week(label, settings.instance.timezone)
            report = build_weekly_report(session, settings, week)
            build = best_ms(lambda w=week: build_weekly_report(session, settings, w), args.rounds)
            html = best_ms(lambda r=report: render_html(r, settings), args.rounds)
            text = best_ms(lambda r=report: render_text(r, settings), args.rounds)
            print(f"{label}: {report.created} new, {report.backlog_total} open, "
                  f"{len(report.forwards)} at Netcompany; build {build:.0f} ms, "
                  f"HTML with charts {html:.0f} ms, text {text:.1f} ms")
    engine.dispose()


if __name__ == "__main__":
    main()
