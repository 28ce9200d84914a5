"""Every route of the web view × every role and no log-in: each answer as designed.

A route without a row in CASES fails the test, so nothing is open by mistake: whoever adds a
route adds its expected answers here (one row per endpoint and method; the reports area too).
Every state-changing route also refuses a request without a CSRF token (400).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.conftest import csrf_token, log_in
from tests.web.factories import attach, make_message, make_ticket

ROLES = {
    "superuser_forward": "lene.mortensen@korsbaek.dk",
    "superuser": "peter.lund@korsbaek.dk",
    "administrator": "susanne.vind@korsbaek.dk",
    "system_responsible": "mads.kjaer@korsbaek.dk",
    "system_owner": "birgitte.holm@korsbaek.dk",
    "professional_lead": "karen.bech@korsbaek.dk",
    "anonymous": "",
}
LOGGED_IN = [r for r in ROLES if r != "anonymous"]


def answers(allowed: int, refused: int = 403, *, who: list[str] | None = None,
            anonymous: int = 302) -> dict[str, int]:
    """`allowed` for the roles in `who` (default: everyone logged in), `refused` for the rest."""
    chosen = LOGGED_IN if who is None else who
    table = {role: (allowed if role in chosen else refused) for role in LOGGED_IN}
    table["anonymous"] = anonymous
    return table


WORKERS = ["superuser_forward", "superuser", "administrator", "system_responsible", "professional_lead"]
MAY_FORWARD = ["superuser_forward", "administrator", "system_responsible"]
READ = answers(200)
WORK = answers(303, who=WORKERS)


@dataclass(frozen=True)
class Case:
    """One request and the answer each role gets."""

    endpoint: str
    method: str
    expect: dict[str, int]
    values: dict[str, str] = field(default_factory=dict)  # URL values beyond the samples
    data: dict[str, str] = field(default_factory=dict)  # form fields (POST)


CASES: list[Case] = [
    Case("static", "GET", answers(200, anonymous=200), {"filename": "site.css"}),
    Case("auth.login", "GET", answers(200, anonymous=200)),
    Case("auth.login", "POST", answers(401, anonymous=401), data={"email": "x@korsbaek.dk", "password": "forkert"}),
    Case("queue.index", "GET", READ),
    Case("queue.noise", "GET", READ),
    Case("queue.quarantine", "GET", READ),
    Case("queue.outbox", "GET", READ),
    Case("queue.message", "GET", READ),
    Case("queue.restore", "POST", WORK),
    Case("tickets.show", "GET", READ),
    Case("tickets.attachment", "GET", READ),
    Case("tickets.assign", "POST", WORK, data={"assignee": ""}),
    Case("tickets.reclassify", "POST", WORK, data={"category": "fault", "topic": "breve", "severity": "high"}),
    Case("tickets.note", "POST", WORK, data={"body": "En note"}),
    Case("tickets.reply", "POST", WORK, data={"body": "Et svar"}),
    Case("tickets.status", "POST", WORK, data={"status": "resolved"}),
    Case("tickets.reopen", "POST", WORK),
    Case("forwarding.form", "GET", answers(200, who=MAY_FORWARD), {"target": "netcompany"}),
    Case("forwarding.form", "GET", answers(200, who=["system_responsible"]), {"target": "kombit"}),
    Case("forwarding.preview", "POST", answers(200, who=MAY_FORWARD), {"target": "netcompany"}, {"reason": "r"}),
    Case("forwarding.preview", "POST", answers(200, who=["system_responsible"]), {"target": "kombit"}, {"reason": "r"}),
    Case("forwarding.send", "POST", answers(303, who=MAY_FORWARD), {"target": "netcompany"}, {"reason": "r"}),
    Case("forwarding.send", "POST", answers(303, who=["system_responsible"]), {"target": "kombit"}, {"reason": "r"}),
    Case("audit.index", "GET", answers(200, who=["system_responsible", "system_owner"])),
    Case("reports.weekly", "GET", answers(200, who=["system_responsible", "system_owner"])),
    Case("reports.weekly_csv", "GET", answers(200, who=["system_responsible", "system_owner"])),
    Case("reports.roster", "GET", answers(200, who=["system_responsible", "system_owner"])),
    Case("reports.roster_csv", "GET", answers(200, who=["system_responsible", "system_owner"])),
    Case("reports.roster_xlsx", "GET", answers(200, who=["system_responsible", "system_owner"])),
    Case("reports.away", "GET", READ),
    Case("reports.away", "POST", answers(303), data={"action": "back"}),
    # Last: it ends the session.
    Case("auth.logout", "POST", answers(303)),
]


@pytest.fixture
def samples(web_runtime) -> dict[str, dict[str, int]]:
    """A fault, a national change request, a noise mail and an attachment to point routes at."""
    with web_runtime.sessions.begin() as s:
        fault = make_ticket(s, category="fault", status="resolved")
        change = make_ticket(s, category="change_request", topic="sagsbehandling")
        noise = make_message(s, kind="noise", noise_kind="autoreply", noise_reason="Auto-Submitted")
        att = attach(s, fault.messages[0], "skærmbillede.png", b"\x89PNG", "image/png")
        return {
            "default": {"ticket_id": fault.id, "message_id": noise.id, "attachment_id": att.id},
            "kombit": {"ticket_id": change.id},
        }


def _url(app: Flask, case: Case, samples: dict[str, dict[str, int]]) -> str:
    """The case's URL with sample ids filled in for the rule's arguments."""
    rule = next(r for r in app.url_map.iter_rules(case.endpoint))
    values: dict[str, object] = dict(case.values)
    pool = {**samples["default"], **(samples["kombit"] if case.values.get("target") == "kombit" else {})}
    for arg in rule.arguments:
        values.setdefault(arg, pool.get(arg))
    with app.test_request_context():
        from flask import url_for

        return url_for(case.endpoint, **values)


def _declared(app: Flask) -> set[tuple[str, str]]:
    """Every (endpoint, method) the app answers, HEAD and OPTIONS aside."""
    return {(r.endpoint, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}


def test_every_route_has_an_expectation(app: Flask) -> None:
    missing = _declared(app) - {(c.endpoint, c.method) for c in CASES}
    assert not missing, f"routes without a row in CASES: {sorted(missing)}"


def _clients(app: Flask) -> dict[str, tuple[FlaskClient, str]]:
    """A logged-in client per role (and one without log-in), with its CSRF token."""
    clients = {}
    for role, email in ROLES.items():
        client = app.test_client()
        if email:
            log_in(client, email)
        clients[role] = (client, csrf_token(client, "/login"))
    return clients


def test_each_role_gets_the_designed_answer(app: Flask, samples) -> None:
    clients = _clients(app)
    wrong = []
    for case in CASES:
        url = _url(app, case, samples)
        for role, (client, token) in clients.items():
            if case.method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, data={**case.data, "csrf_token": token})
            status = response.status_code
            response.close()
            if status != case.expect[role]:
                wrong.append(f"{case.method} {url} as {role}: {status}, expected {case.expect[role]}")
    assert not wrong, "\n".join(wrong)


def test_state_changing_routes_refuse_without_csrf_token(app: Flask, samples) -> None:
    client = app.test_client()
    log_in(client, ROLES["system_responsible"])
    for case in CASES:
        if case.method != "POST":
            continue
        answer = client.post(_url(app, case, samples), data=case.data)
        assert answer.status_code == 400, f"{case.endpoint} accepted a POST without a CSRF token"
