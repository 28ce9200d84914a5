"""The web view in headless Chromium: what a superuser does, and what nobody must be able to do."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from app.db import make_engine, make_sessionmaker, sync_people
from app.mail.outbox import send_pending
from app.models import AuditEvent, Correction, Person, Ticket
from app.runtime import Runtime
from app.web import create_app
from tests.conftest import screenshots_dir, skip_or_fail
from tests.web import browser as b
from tests.web.conftest import PASSWORD
from tests.web.factories import attach, make_message, make_ticket, person

pytestmark = pytest.mark.browser
LENE, PETER = "lene.mortensen@korsbaek.dk", "peter.lund@korsbaek.dk"


@pytest.fixture
def live(make_settings, sqlite_url, smtp_settings, password_hash) -> Iterator[tuple[Runtime, str]]:
    """The app on SQLite, served on a loopback port, its mail going to the test SMTP server."""
    if not b.chromium_available():
        skip_or_fail(f"Chromium is not installed at {b.CHROMIUM}")
    settings = make_settings(database={"url": sqlite_url}, smtp=smtp_settings)
    engine = make_engine(settings.database_url)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    with runtime.sessions.begin() as s:
        sync_people(s, settings)
        s.flush()
        s.execute(update(Person).values(password_hash=password_hash))
    with b.served(create_app(runtime=runtime)) as base:
        yield runtime, base
    runtime.dispose()


def _queue(runtime: Runtime) -> dict[str, int]:
    """A realistic little queue; returns the ids the tests use."""
    with runtime.sessions.begin() as s:
        lene = person(s, LENE)
        make_ticket(s, subject="Hvordan opretter jeg en handleplan?", category="question", assignee=lene)
        make_ticket(s, subject="Underretning kan ikke registreres", category="fault", severity="critical",
                    topic="sagsbehandling", text="Vi får fejl 500, når vi gemmer en underretning.\n")
        make_ticket(s, subject="Ønske: felt til netværksmøder", category="change_request")
        make_ticket(s, subject="Brevskabelon mangler logo", topic="breve", severity="high", assignee=lene)
        make_ticket(s, subject="Bevilling vises ikke", topic="oekonomi", category="question",
                    text="Bevillingen til plejefamilien vises ikke i oversigten.\n")
        fault = make_ticket(s, subject="Fejl ved journalnotat for 010203-1234",
                            text="Barnet 010203-1234 (CPR 0102031234) kan ikke få journalnotat.\n",
                            category="fault", severity="high", assignee=lene)
        attach(s, fault.messages[0], "skærmbillede 010203-1234.png", b"\x89PNG\r\n", "image/png")
        search = make_ticket(s, subject="Spørgsmål om frister", category="question", topic="andet",
                             text="Hvor finder jeg fristerne for børnefaglig undersøgelse?\n",
                             confidence=0.41, abstained=True, reasons=[
                                 {"source": "rule", "name": "question-words", "field": "category",
                                  "label": "question", "weight": 1.5},
                                 {"source": "model", "name": "frist", "field": "topic",
                                  "label": "andet", "weight": 0.12}])
        return {"fault": fault.id, "search": search.id}


def _assert_accessible(page) -> None:  # type: ignore[no-untyped-def]
    """Landmarks, a language, and a label for every visible form control."""
    assert page.locator("html").get_attribute("lang") == "da"
    assert page.locator("main").count() == 1 and page.locator("nav").count() >= 1
    unlabelled = page.locator("input:not([type=hidden]), select, textarea").evaluate_all(
        "els => els.filter(e => !e.labels || e.labels.length === 0).map(e => e.name)"
    )
    assert unlabelled == []


def test_superuser_finds_reclassifies_and_replies(live, smtp_server) -> None:
    runtime, base = live
    ids = _queue(runtime)
    with b.browser() as chrome:
        page = chrome.new_page(viewport={"width": 1280, "height": 900})
        b.log_in(page, base, LENE, PASSWORD)
        page.screenshot(path=str(screenshots_dir() / "queue.png"), full_page=True)
        _assert_accessible(page)
        critical = page.locator("tr", has_text="Underretning kan ikke registreres")
        assert "Kritisk" in critical.inner_text()  # not by colour alone
        page.get_by_label("Søg i emne, afsender og tekst").fill("børnefaglig undersøgelse")
        page.get_by_role("button", name="Vis").click()
        page.get_by_role("link", name="Spørgsmål om frister").click()
        page.get_by_label("Område").select_option("sagsbehandling")
        page.get_by_role("button", name="Omklassificér").click()
        page.get_by_text("Klassifikationen er rettet.").wait_for()
        page.get_by_label("Svar til anne.hansen@korsbaek.dk").fill("Fristerne står under Sagen › Frister.")
        page.get_by_role("button", name="Send svar").click()
        page.get_by_text("Svaret er lagt i udbakken").wait_for()
        page.screenshot(path=str(screenshots_dir() / "ticket.png"), full_page=True)
        _assert_accessible(page)
    assert send_pending(runtime).sent == 1
    mail = smtp_server.wait_for(1)[0]
    assert mail["To"] == "anne.hansen@korsbaek.dk"
    assert f"[DUBU-{ids['search']}]" in mail["Subject"]
    assert "Fristerne står under Sagen" in mail.get_body(("plain",)).get_content()
    with runtime.sessions() as s:
        assert s.scalars(select(Correction)).one().topic == "sagsbehandling"
        assert s.get(Ticket, ids["search"]).first_response_at is not None


def test_forward_to_service_desk_masks_cpr(live, smtp_server) -> None:
    runtime, base = live
    ids = _queue(runtime)
    with b.browser() as chrome:
        page = chrome.new_page()
        b.log_in(page, base, LENE, PASSWORD)
        page.goto(f"{base}/tickets/{ids['fault']}")
        page.get_by_role("link", name="Videresend fejl til Netcompany").click()
        page.get_by_label("Begrundelse (påkrævet)").fill("Blokerer journalføring for 010203-1234")
        page.get_by_role("button", name="Opdatér forhåndsvisning").click()
        preview = page.locator("#preview-body").inner_text()
        assert "010203-XXXX" in preview and "1234" not in preview.replace("DUBU-", "")
        page.screenshot(path=str(screenshots_dir() / "forward-preview.png"), full_page=True)
        page.get_by_role("button", name="Send til Netcompany Servicedesk").click()
        page.get_by_text("Sendt til Netcompany Servicedesk").wait_for()
    assert send_pending(runtime).sent == 1
    mail = smtp_server.wait_for(1)[0]
    text = mail.get_body(("plain",)).get_content()
    assert mail["To"] == "servicedesk@netcompany.example"
    for part in (mail["Subject"], text):
        assert "010203-XXXX" in part and "010203-1234" not in part and "0102031234" not in part
    assert "Høj" in text or "høj" in text
    assert not list(mail.iter_attachments())  # left out unless ticked


def test_superuser_without_the_right_sees_no_button_and_a_forged_post_is_refused(live) -> None:
    runtime, base = live
    ids = _queue(runtime)
    with b.browser() as chrome:
        page = chrome.new_page()
        b.log_in(page, base, PETER, PASSWORD)
        page.goto(f"{base}/tickets/{ids['fault']}")
        assert page.get_by_role("link", name="Videresend fejl til Netcompany").count() == 0
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        answer = page.request.post(
            f"{base}/tickets/{ids['fault']}/forward/netcompany",
            form={"csrf_token": token, "reason": "forfalsket"},
            headers={"Referer": f"{base}/tickets/{ids['fault']}"},
        )
        assert answer.status == 403
    with runtime.sessions() as s:
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "forward_refused")).one()
        assert refused.actor == PETER and refused.ticket_id == ids["fault"]
        assert s.get(Ticket, ids["fault"]).status == "new"


HOSTILE_HTML = """<html><head><style>@import url(http://203.0.113.9/x.css);</style>
<script>window.__pwned = 1; alert('html')</script></head>
<body onload="alert('onload')"><p onclick="alert('click')">Tekst</p>
<a href="javascript:alert('js')">klik</a> <a href="http://203.0.113.9/ok">link</a>
<img src="http://203.0.113.9/pixel.gif"> <img src=x onerror="alert('img')">
<iframe src="http://203.0.113.9/"></iframe><form action="http://203.0.113.9/"><input name=q></form>
<svg onload="alert('svg')"></svg><object data="http://203.0.113.9/o"></object>
<div style="background:url(http://203.0.113.9/bg.png)">stil</div></body></html>"""


def test_hostile_mail_is_shown_inert(live) -> None:
    runtime, base = live
    with runtime.sessions.begin() as s:
        ticket = make_ticket(s, subject="<script>alert('subject')</script><img src=x onerror=alert(1)>",
                             text="<script>alert('text')</script> javascript:alert(1)\n", html=HOSTILE_HTML)
        attach(s, ticket.messages[0], "\"><script>alert('att')</script>.html", b"<script>alert(1)</script>", "text/html")
        attach(s, ticket.messages[0], "../../<img src=x onerror=alert(2)>.svg", b"<svg onload=alert(1)/>", "image/svg+xml")
        make_message(s, kind="noise", subject="<img src=http://203.0.113.9/n.gif>", text="<b>x</b>",
                     noise_kind="spam", noise_reason="<script>alert(3)</script>")
        tid = ticket.id
    events: list[str] = []
    hosts: set[str] = set()
    with b.browser() as chrome:
        page = chrome.new_page()
        page.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url))
        page.on("pageerror", lambda e: events.append(f"error: {e}"))
        b.log_in(page, base, LENE, PASSWORD)
        for path in ("/", "/?view=all", f"/tickets/{tid}", "/noise"):
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
        page.goto(f"{base}/tickets/{tid}")
        page.get_by_text("Vis HTML-udgaven (renset)").click()
        page.get_by_text("Tekst").click()
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned === undefined")
        links = page.locator(".html-body a").evaluate_all("els => els.map(e => [e.getAttribute('href'), e.rel])")
        assert all(not (href or "").startswith("javascript") for href, _ in links)
        assert all(rel == "noopener noreferrer" for href, rel in links if href)
        assert page.locator(".html-body img, .html-body iframe, .html-body form, .html-body svg").count() == 0
    assert events == []
    assert hosts <= {"127.0.0.1"}, hosts


def _hostile_raw() -> bytes:
    """A caseworker-looking mail with hostile subject, sender name, HTML and attachment names."""
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"] = '"<img src=x onerror=alert(9)>" <jens.olsen@korsbaek.dk>'
    mail["To"] = "dubu@korsbaek.dk"
    mail["Subject"] = "<script>alert('emne')</script> DUBU giver fejl ved gem"
    mail["Message-ID"] = "<hostile-1@korsbaek.dk>"
    mail.set_content("Hej\n<script>alert('tekst')</script>\nDUBU giver fejl, når jeg gemmer.\n")
    mail.add_alternative(HOSTILE_HTML, subtype="html")
    mail.add_attachment(b"<script>alert(1)</script>", maintype="text", subtype="html",
                        filename="\"><script>alert('bilag')</script>.html")
    mail.add_attachment(b"<svg onload=alert(1)/>", maintype="image", subtype="svg+xml",
                        filename="../../<svg onload=alert(2)>.svg")
    return mail.as_bytes()


def test_hostile_mail_through_the_pipeline_is_inert(live) -> None:
    from app.ingest.pipeline import ingest_raw

    runtime, base = live
    outcome = ingest_raw(runtime, _hostile_raw(), source="import")
    assert outcome.ticket_id, outcome  # a person's mail: a ticket, with its attachments
    path = f"/tickets/{outcome.ticket_id}"
    events: list[str] = []
    hosts: set[str] = set()
    with b.browser() as chrome:
        page = chrome.new_page()
        page.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url))
        b.log_in(page, base, LENE, PASSWORD)
        page.goto(base + "/?view=all")
        page.goto(base + path)
        page.get_by_text("Vis HTML-udgaven (renset)").click()
        links = page.locator("a[download]").all()
        assert len(links) == 2
        for link in links:
            answer = page.request.get(base + link.get_attribute("href"))
            assert answer.headers["content-disposition"].startswith("attachment")
            assert answer.headers["content-type"] == "application/octet-stream"
            assert "<" not in answer.headers["content-disposition"]
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned === undefined")
    assert events == []
    assert hosts <= {"127.0.0.1"}, hosts
