"""The report pages in the web view: the weekly report with its charts in headless Chromium
(screenshot in docs/screenshots/report.png), the CSV download, the roster, the absence form."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from werkzeug.serving import make_server

from app.models import AuditEvent, Person, Ticket
from app.runtime import Runtime
from app.settings import Settings
from tests.conftest import free_port, screenshots_dir, skip_or_fail
from tests.integration.test_report_history import add_ticket, generate_quarter, local
from tests.web.conftest import PASSWORD, csrf_token, log_in

CHROMIUM = "/usr/bin/chromium"
MADS = "mads.kjaer@korsbaek.dk"


@pytest.fixture
def settings(make_settings: Any, sqlite_url: str) -> Settings:
    """The page tests need one backend; the figures are tested on both elsewhere."""
    return make_settings(database={"url": sqlite_url})


@pytest.fixture
def quarter(web_runtime: Runtime) -> Runtime:
    """A quarter of history from go-live, and 'now' the Monday after week 20."""
    with web_runtime.sessions.begin() as session:
        generate_quarter(session, date(2024, 4, 8), weeks=7)
    web_runtime.now = lambda: local(date(2024, 5, 27), 9)
    return web_runtime


@pytest.fixture
def live_server(app: Flask, quarter: Runtime) -> Iterator[str]:
    """The app served on a loopback port, for the browser."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.mark.browser
def test_report_page_and_charts_in_chromium(live_server: str) -> None:
    """The system responsible sees week 20 with three drawn charts; nothing leaves the host."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: outside.append(r.url)
                if not r.url.startswith((live_server, "data:")) else None)
        page.goto(f"{live_server}/login?next=/reports/weekly")
        page.fill("input[name=email]", MADS)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/reports/weekly")
        assert "uge 21 2024" in page.inner_text("h1")  # the last complete week on 27 May
        page.goto(f"{live_server}/reports/weekly?week=2024-W20")
        assert "uge 20 2024 (13.05.2024–19.05.2024)" in page.inner_text("h1")
        for chart in ("tickets", "response", "backlog"):
            width = page.eval_on_selector(f"#chart-{chart}", "img => img.complete && img.naturalWidth")
            assert width and width > 200, f"chart {chart} was not drawn"
        assert int(page.inner_text("#created")) > 0
        shot = screenshots_dir() / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert outside == []
    assert shot.stat().st_size > 10_000


def test_csv_download_is_the_report(client: FlaskClient, quarter: Runtime) -> None:
    """The CSV link gives the week's figures as a file."""
    log_in(client, MADS)
    answer = client.get("/reports/weekly.csv?week=2024-W20")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="ugerapport-2024-W20.csv"'
    text = answer.get_data(as_text=True)
    assert text.splitlines()[0] == "sektion,emne,værdi,bemærkning"
    assert "uge,2024-W20,," in text
    assert client.get("/reports/weekly?week=20").status_code == 400


def test_roster_page_and_files(client: FlaskClient) -> None:
    """The roster shows every active person; the files have KOMBIT's four columns."""
    log_in(client, MADS)
    page = client.get("/reports/roster").get_data(as_text=True)
    assert "Karen Bech" in page and "faglig leder" in page and "72 34 60 30" in page
    csv_text = client.get("/reports/roster.csv").get_data(as_text=True)
    assert csv_text.splitlines()[0] == "Navn,E-mail,Telefon,Rolle"
    assert "Susanne Vind,susanne.vind@korsbaek.dk,72 34 60 20,systemadministrator" in csv_text
    sheet = load_workbook(io.BytesIO(client.get("/reports/roster.xlsx").data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Navn", "E-mail", "Telefon", "Rolle") and len(rows) == 9


def test_away_form_hands_open_tickets_on(client: FlaskClient, web_runtime: Runtime) -> None:
    """'Jeg er væk til …' marks Lene away and gives her open tickets to colleagues of the area."""
    today = web_runtime.now().date()
    with web_runtime.sessions.begin() as session:
        lene = session.scalars(select(Person).where(Person.email == "lene.mortensen@korsbaek.dk")).one()
        open_ids = [add_ticket(session, created_at=local(today, 8), topic=topic, assignee=lene).id
                    for topic in ("breve", "sagsbehandling")]
        done = add_ticket(session, created_at=local(today, 8), assignee=lene,
                          response_after=timedelta(hours=1), resolved_after=timedelta(hours=2))
    log_in(client, "lene.mortensen@korsbaek.dk")
    assert "2 åbne sager" in client.get("/away").get_data(as_text=True)
    until = today + timedelta(days=14)
    answer = client.post("/away", data={"csrf_token": csrf_token(client, "/away"),
                                        "action": "away", "until": until.isoformat(),
                                        "hand_on": "1"})
    assert answer.status_code == 303
    page = client.get("/away").get_data(as_text=True)
    assert f"væk til og med <strong>{until:%d.%m.%Y}</strong>" in page
    assert "2 åbne sager er givet videre" in page
    with web_runtime.sessions() as session:
        lene = session.scalars(select(Person).where(Person.email == "lene.mortensen@korsbaek.dk")).one()
        assert lene.away_until == until
        moved = [session.get(Ticket, i) for i in open_ids]
        assignees = {session.get(Person, t.assignee_id).email for t in moved}
        # Breve and sagsbehandling: Peter Lund (breve, sagsbehandling) and Jonas Friis.
        assert assignees <= {"peter.lund@korsbaek.dk", "jonas.friis@korsbaek.dk"}
        assert all("Overdraget fra Lene Mortensen" in t.route_reason for t in moved)
        assert session.get(Ticket, done.id).assignee_id == lene.id
        events = session.scalars(select(AuditEvent.action).where(
            AuditEvent.actor == "lene.mortensen@korsbaek.dk")).all()
        assert events.count("ticket.handed_on") == 2 and "person.away" in events
    past = client.post("/away", data={"csrf_token": csrf_token(client, "/away"),
                                      "action": "away", "until": "2000-01-01"})
    assert past.status_code == 303
    assert "allerede passeret" in client.get("/away").get_data(as_text=True)
    client.post("/away", data={"csrf_token": csrf_token(client, "/away"), "action": "back"})
    assert "ikke markeret som væk" in client.get("/away").get_data(as_text=True)
