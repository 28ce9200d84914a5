"""Security review, inert mail and headers: what a hostile sender or log-in attempt can put on
our pages, and the headers every kind of answer carries."""

from __future__ import annotations

import re
from datetime import date, timedelta

from flask import Flask

from app.models import AuditEvent
from app.reports.collect import build_weekly_report
from app.reports.render import render_html
from app.reports.weekly import week_of_day
from app.services import forwarding
from app.web import create_app
from tests.web.conftest import csrf_token, log_in
from tests.web.factories import T0, attach, make_ticket, person

LENE = "lene.mortensen@korsbaek.dk"
MADS = "mads.kjaer@korsbaek.dk"  # system responsible: reads the audit log and the reports
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_links_in_mail_html_never_point_into_the_application(client, web_runtime) -> None:
    """A mail's relative link would look like ours (`/login?next=…`, `//host`): it is dropped."""
    html = ('<p><a href="/login?next=/noise">Log ind igen</a> <a href="//evil.example/x">x</a> '
            '<a href="https://dubu.kombit.dk/vejledning">vejledning</a></p>')
    with web_runtime.sessions.begin() as s:
        tid = make_ticket(s, html=html).id
    log_in(client, LENE)
    page = client.get(f"/tickets/{tid}").get_data(as_text=True)
    assert 'href="https://dubu.kombit.dk/vejledning"' in page
    assert 'href="/login?next' not in page and "evil.example" not in page
    assert "Log ind igen" in page  # the words stay; only the link goes


def test_what_an_attacker_types_at_log_in_is_shown_escaped_in_the_audit_log(client, web_runtime) -> None:
    token = csrf_token(client)
    client.post("/login", data={"email": HOSTILE, "password": "gæt-1234-hemmelig", "csrf_token": token})
    log_in(client, MADS)
    page = client.get("/audit").get_data(as_text=True)
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    with web_runtime.sessions() as s:
        details = [str((e.actor, e.detail)) for e in s.query(AuditEvent)]
    assert not any("gæt-1234-hemmelig" in d for d in details)  # never a password


def test_hostile_subjects_and_names_are_escaped_on_the_outbox_and_forward_preview(client, web_runtime) -> None:
    with web_runtime.sessions.begin() as s:
        ticket = make_ticket(s, subject=f"Fejl {HOSTILE}", text=f"Tekst {HOSTILE}\n")
        attach(s, ticket.messages[0], f"{HOSTILE}.pdf", b"%PDF")
        tid = ticket.id
    log_in(client, LENE)
    preview = client.get(f"/tickets/{tid}/forward/netcompany").get_data(as_text=True)
    token = csrf_token(client, f"/tickets/{tid}")
    client.post(f"/tickets/{tid}/reply", data={"body": f"Svar {HOSTILE}", "csrf_token": token})
    outbox = client.get("/outbox").get_data(as_text=True)
    for page in (preview, outbox):
        assert "<script>alert(1)" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)" in page


def test_weekly_report_html_shows_hostile_subjects_as_text(web_runtime) -> None:
    """The weekly mail's HTML is rendered outside a request: autoescaping must hold there too."""
    with web_runtime.sessions.begin() as s:
        ticket = make_ticket(s, subject=f"Fejl {HOSTILE}", created_at=T0)
        forwarding.send_forward(s, web_runtime.settings, person(s, LENE), ticket.id, "netcompany",
                                reason="Blokerer", now=T0 + timedelta(hours=1))
    week = week_of_day(date(2024, 4, 10), web_runtime.settings.instance.timezone)
    with web_runtime.sessions() as s:
        html = render_html(build_weekly_report(s, web_runtime.settings, week), web_runtime.settings)
    assert "Fejl &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html


def _every_kind_of_answer(client, tid: int, aid: int) -> dict[str, object]:
    """A page, a redirect, a 404, a 403, a static file and a download."""
    answers = {"redirect": client.get("/"), "login": client.get("/login")}
    log_in(client, LENE)
    answers |= {
        "page": client.get(f"/tickets/{tid}"),
        "404": client.get("/tickets/999999"),
        "403": client.get("/audit"),
        "static": client.get("/static/site.css"),
        "download": client.get(f"/tickets/{tid}/attachments/{aid}"),
    }
    return answers


def test_every_kind_of_answer_carries_the_csp_and_nosniff(client, web_runtime) -> None:
    with web_runtime.sessions.begin() as s:
        ticket = make_ticket(s)
        aid = attach(s, ticket.messages[0], "udskrift.html", b"<script>alert(1)</script>", "text/html").id
        tid = ticket.id
    for name, answer in _every_kind_of_answer(client, tid, aid).items():
        assert "default-src" in answer.headers.get("Content-Security-Policy", ""), name
        assert answer.headers["X-Content-Type-Options"] == "nosniff", name
        assert "Strict-Transport-Security" not in answer.headers, name  # plain HTTP in tests
        answer.close()  # a static file answer holds the file open


def test_downloads_are_sandboxed_octet_streams_with_rfc6266_names(client, web_runtime) -> None:
    with web_runtime.sessions.begin() as s:
        ticket = make_ticket(s)
        aid = attach(s, ticket.messages[0], "../../Afgørelse\r\nX-Evil: 1\u202egpj.html",
                     b"<svg onload=alert(1)>", "image/svg+xml").id
        tid = ticket.id
    log_in(client, LENE)
    answer = client.get(f"/tickets/{tid}/attachments/{aid}")
    disposition = answer.headers["Content-Disposition"]
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.headers["Content-Security-Policy"].startswith("sandbox")
    assert disposition.startswith("attachment;")
    assert re.search(r"filename\*=UTF-8''Afg%C3%B8relseX-Evil_%201gpj\.html", disposition), disposition
    assert "X-Evil" not in answer.headers and "\u202e" not in disposition and ".." not in disposition


def test_behind_tls_browsers_are_told_to_stay_on_https(make_settings, sqlite_url) -> None:
    from app.db import make_engine, make_sessionmaker
    from app.runtime import Runtime

    settings = make_settings(database={"url": sqlite_url}, instance={"secure_cookies": True})
    engine = make_engine(settings.database_url)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    app: Flask = create_app(runtime=runtime)
    answer = app.test_client().get("/login", base_url="https://dubu.korsbaek.dk")
    runtime.dispose()
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Secure" in answer.headers.get("Set-Cookie", "")
