"""The weekly report read from a real database (SQLite and PostgreSQL), against hand-computed
figures, and printed by `dubu-triage report weekly`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tomli_w
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cli import main
from app.models import Correction, OutboundMessage, Ticket
from app.reports.collect import build_weekly_report
from app.reports.render import render_text
from app.reports.weekly import parse_week
from app.runtime import Runtime
from tests.conftest import example_config
from tests.integration.test_report_history import add_forward, add_message, add_ticket, person

W16 = parse_week("2024-W16", "Europe/Copenhagen")  # 14 Apr 22:00 UTC to 21 Apr 22:00 UTC
H = timedelta(hours=1)


def utc(day: int, hour: int, month: int = 4) -> datetime:
    """An instant in 2024, UTC."""
    return datetime(2024, month, day, hour, tzinfo=UTC)


def _correct(session: Session, ticket: Ticket, at: datetime, **old: str) -> None:
    """A superuser's correction of `ticket` from the `old` labels."""
    session.add(Correction(ticket_id=ticket.id, at=at, old_category=old.get("category", ticket.category),
                           old_topic=old.get("topic", ticket.topic),
                           old_severity=old.get("severity", ticket.severity),
                           category=ticket.category, topic=ticket.topic, severity=ticket.severity))


def fill_week(session: Session) -> dict[str, Ticket]:
    """Six tickets of week 16 and a few around it, with forwards, noise and corrections."""
    lene, mads = person(session, "lene.mortensen@korsbaek.dk"), person(session, "mads.kjaer@korsbaek.dk")
    t = {
        "t1": add_ticket(session, created_at=utc(15, 8), response_after=1 * H, resolved_after=5 * H),
        "t2": add_ticket(session, created_at=utc(15, 9), category="fault", topic="oekonomi",
                         severity="critical", response_after=2 * H, resolved_after=30 * H),
        "t3": add_ticket(session, created_at=utc(16, 10), category="fault", topic="breve",
                         severity="high", response_after=3 * H),
        "t4": add_ticket(session, created_at=utc(17, 7), category="change_request",
                         topic="opsaetning", response_after=4 * H, resolved_after=48 * H),
        "t5": add_ticket(session, created_at=utc(18, 12), topic="adgang", response_after=10 * H,
                         abstained=True),
        "t6": add_ticket(session, created_at=utc(19, 6), category="fault", response_after=24 * H,
                         resolved_after=72 * H),
        "t7": add_ticket(session, created_at=utc(10, 10), response_after=120 * H),
        "t8": add_ticket(session, created_at=utc(1, 10, 3), category="fault", topic="andet",
                         severity="high"),
        "t9": add_ticket(session, created_at=utc(1, 10, 3), category="fault",
                         response_after=2 * H, resolved_after=720 * H),
    }
    add_forward(session, t["t2"], target="netcompany", at=utc(15, 10), by=lene)
    t["t2"].nc_case = "NC-123456"
    add_message(session, kind="followup", ticket=t["t2"], received_at=utc(16, 8),
                sender="servicedesk@netcompany.example")
    add_forward(session, t["t3"], target="netcompany", at=utc(16, 12), by=lene)  # no answer yet
    add_forward(session, t["t8"], target="netcompany", at=utc(2, 10, 3), by=lene)
    t["t8"].nc_case = "NC-654321"
    add_message(session, kind="followup", ticket=t["t8"], received_at=utc(5, 9, 3),
                sender="agent.jensen@netcompany.example")
    add_forward(session, t["t9"], target="netcompany", at=utc(1, 12, 3), by=lene)  # done in March
    add_forward(session, t["t4"], target="kombit", at=utc(18, 9), by=mads)
    add_forward(session, t["t7"], target="kombit", at=utc(11, 9), by=mads)  # week 15
    for at, kind in ((utc(16, 3), "autoreply"), (utc(17, 3), "autoreply"), (utc(14, 22), "bounce"),
                     (utc(14, 21), "bounce"), (utc(21, 22), "spam")):
        add_message(session, kind="noise", received_at=at, noise_kind=kind)
    add_message(session, kind="quarantined", received_at=utc(19, 13))
    _correct(session, t["t2"], utc(15, 11), category="question", severity="normal")
    _correct(session, t["t7"], utc(15, 12), topic="andet")
    _correct(session, t["t5"], utc(22, 8), topic="andet")  # after the week: not counted
    session.flush()
    return t


def test_week_16_by_hand(runtime: Runtime) -> None:
    """Every figure of week 16 as worked out by hand in the comments."""
    with runtime.sessions.begin() as session:
        tickets = fill_week(session)
        report = build_weekly_report(session, runtime.settings, W16)
        text = render_text(report, runtime.settings)
        ids = {name: ticket.id for name, ticket in tickets.items()}
    assert report.created == 6
    assert report.by_category == {"question": 2, "fault": 3, "change_request": 1}
    assert report.fault_severity == {"critical": 1, "high": 1, "normal": 1}
    # First responses 1, 2, 3, 4, 10, 24 and 120 hours; resolutions 5, 30 and 48 hours.
    assert (report.first_response.median_hours, report.first_response.p90_hours) == (4, 120)
    assert (report.resolution.count, report.resolution.median_hours,
            report.resolution.p90_hours) == (3, 30, 48)
    assert report.backlog == {"0–2 dage": 1, "3–7 dage": 2, "8–30 dage": 1, "over 30 dage": 1}
    # Forwards: t2 (answered, resolved in the week), t3 (waiting), t8 (open since March).
    lines = {line.ticket_id: line for line in report.forwards}
    assert set(lines) == {ids["t2"], ids["t3"], ids["t8"]}
    assert lines[ids["t2"]].nc_case == "NC-123456" and not lines[ids["t2"]].open
    assert lines[ids["t2"]].status == "løst 16.04.2024" and lines[ids["t2"]].age_days == 1
    assert lines[ids["t3"]].waiting and lines[ids["t3"]].age_days == 5  # 5 days 10 hours
    assert lines[ids["t8"]].open and not lines[ids["t8"]].waiting
    assert lines[ids["t8"]].age_days == 50  # 2 March 10:00 to 21 April 22:00 UTC
    assert [line.ticket_id for line in report.waiting_forwards] == [ids["t3"]]
    assert [(k.ticket_id, k.by) for k in report.kombit] == [(ids["t4"], "Mads Kjær")]
    # Noise from Monday 00:00 local (22:00 UTC Sunday) to before the next Monday 00:00.
    assert report.noise == {"autoreply": 2, "bounce": 1} and report.quarantined == 1
    assert report.abstained == 1
    assert report.corrections == 2
    assert report.corrections_by_field == {"category": 1, "topic": 1, "severity": 1}
    assert report.corrected_created == 1
    assert f"DUBU-{ids['t3']}  intet NC-nr." in text and "AFVENTER SVAR" in text
    assert "median 4,0 timer, 90 %-fraktil 120,0 timer" in text


def _config_file(tmp_path: Path, db_url: str) -> Path:
    """A TOML configuration on the test database, as an operator would write it."""
    data = example_config()
    data["database"]["url"] = db_url
    data["instance"]["path"] = str(tmp_path / "instance")
    path = tmp_path / "config.toml"
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


def test_cli_prints_the_week_as_csv_text_and_html(runtime: Runtime, tmp_path: Path) -> None:
    """`report weekly --week 2024-W16` in each format shows the same figures."""
    with runtime.sessions.begin() as session:
        fill_week(session)
    config = str(_config_file(tmp_path, runtime.settings.database_url))
    runner = CliRunner()
    answer = runner.invoke(main, ["--config", config, "report", "weekly", "--week", "2024-W16",
                                  "--format", "csv"])
    assert answer.exit_code == 0, answer.output
    rows = list(csv.reader(io.StringIO(answer.output)))
    assert rows[0] == ["sektion", "emne", "værdi", "bemærkning"]
    assert ["kategori", "fault", "3", ""] in rows
    assert ["første_svar", "p90_timer", "120.00", ""] in rows
    assert ["åbne_efter_alder", "over 30 dage", "1", ""] in rows
    assert any(row[0] == "netcompany" and row[2] == "NC-654321" for row in rows)
    text = runner.invoke(main, ["--config", config, "report", "weekly", "--week", "2024-W16"])
    assert "uge 16 2024 (15.04.2024–21.04.2024)" in text.output and "Nye sager: 6" in text.output
    html = runner.invoke(main, ["--config", config, "report", "weekly", "--week", "2024-W16",
                                "--format", "html"])
    assert html.output.startswith("<!doctype html>") and "NC-654321" in html.output
    bad = runner.invoke(main, ["--config", config, "report", "weekly", "--week", "16"])
    assert bad.exit_code == 2 and "2024-W16" in bad.output
    sent = runner.invoke(main, ["--config", config, "report", "weekly", "--week", "2024-W16",
                                "--send"])
    assert sent.exit_code == 0 and "queued" in sent.output
    with runtime.sessions() as session:
        mail = session.scalars(select(OutboundMessage)
                               .where(OutboundMessage.kind == "weekly_report")).one()
    assert mail.to_addrs == ["birgitte.holm@korsbaek.dk", "mads.kjaer@korsbaek.dk"]
    assert "NC-654321" in mail.body_text
