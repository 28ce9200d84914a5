"""The KOMBIT roster and absence from the command line: `roster` and `away`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from app.cli import main
from app.models import AuditEvent, Person, Ticket
from app.runtime import Runtime
from tests.integration.test_report_figures import _config_file
from tests.integration.test_report_history import add_ticket, person

EXPECTED = [
    ["Navn", "E-mail", "Telefon", "Rolle"],
    ["Birgitte Holm", "birgitte.holm@korsbaek.dk", "72 34 60 01", "systemejer"],
    ["Mads Kjær", "mads.kjaer@korsbaek.dk", "72 34 60 02", "systemansvarlig"],
    ["Susanne Vind", "susanne.vind@korsbaek.dk", "72 34 60 20", "systemadministrator"],
    ["Karen Bech", "karen.bech@korsbaek.dk", "72 34 60 30", "faglig leder"],
    ["Hanne Dahl", "hanne.dahl@korsbaek.dk", "72 34 60 13", "superbruger"],
    ["Jonas Friis", "jonas.friis@korsbaek.dk", "72 34 60 12", "superbruger"],
    ["Lene Mortensen", "lene.mortensen@korsbaek.dk", "72 34 60 11", "superbruger"],
    ["Peter Lund", "peter.lund@korsbaek.dk", "72 34 60 14", "superbruger"],
]


def test_roster_csv_and_xlsx(runtime: Runtime, tmp_path: Path) -> None:
    """Both formats: KOMBIT's columns, Danish role names, responsible roles first."""
    with runtime.sessions.begin() as session:
        person(session, "peter.lund@korsbaek.dk").active = False  # left the organisation
    config = str(_config_file(tmp_path, runtime.settings.database_url))
    runner = CliRunner()
    answer = runner.invoke(main, ["--config", config, "roster", "--format", "csv"])
    assert answer.exit_code == 0, answer.output
    assert list(csv.reader(io.StringIO(answer.output))) == EXPECTED[:-1]
    target = tmp_path / "rolleoversigt.xlsx"
    answer = runner.invoke(main, ["--config", config, "roster", "--format", "xlsx",
                                  "--output", str(target)])
    assert answer.exit_code == 0, answer.output
    sheet = load_workbook(target).active
    assert sheet.title == "Rolleoversigt"
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == EXPECTED[:-1]
    assert sheet["A1"].font.bold


def test_away_and_back_from_the_command_line(runtime: Runtime, tmp_path: Path) -> None:
    """`away EMAIL --until DATE` hands Hanne's open økonomi ticket on; `--back` undoes absence."""
    now = datetime.now(UTC)
    with runtime.sessions.begin() as session:
        hanne = person(session, "hanne.dahl@korsbaek.dk")
        ticket_id = add_ticket(session, created_at=now - timedelta(hours=3), topic="oekonomi",
                               assignee=hanne).id
    config = str(_config_file(tmp_path, runtime.settings.database_url))
    until = (now + timedelta(days=10)).date()
    runner = CliRunner()
    answer = runner.invoke(main, ["--config", config, "away", "hanne.dahl@korsbaek.dk",
                                  "--until", until.isoformat()])
    assert answer.exit_code == 0, answer.output
    # Hanne is the only økonomi superuser, so the ticket falls back to the system responsible.
    assert f"DUBU-{ticket_id} -> mads.kjaer@korsbaek.dk" in answer.output
    with runtime.sessions() as session:
        assert person(session, "hanne.dahl@korsbaek.dk").away_until == until
        ticket = session.get(Ticket, ticket_id)
        assert session.get(Person, ticket.assignee_id).email == "mads.kjaer@korsbaek.dk"
        assert session.scalars(select(AuditEvent).where(
            AuditEvent.action == "ticket.handed_on")).one().ticket_id == ticket_id
    back = runner.invoke(main, ["--config", config, "away", "hanne.dahl@korsbaek.dk", "--back"])
    assert back.exit_code == 0 and "is back" in back.output
    with runtime.sessions() as session:
        assert person(session, "hanne.dahl@korsbaek.dk").away_until is None
    unknown = runner.invoke(main, ["--config", config, "away", "nobody@korsbaek.dk", "--back"])
    assert unknown.exit_code == 2 and "nobody@korsbaek.dk" in unknown.output
    neither = runner.invoke(main, ["--config", config, "away", "hanne.dahl@korsbaek.dk"])
    assert neither.exit_code == 2
