"""Log-in, log-out, the rate limit and the security headers, through the Flask test client."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import AuditEvent
from tests.web.conftest import PASSWORD, csrf_token, log_in

LENE = "lene.mortensen@korsbaek.dk"


def _count(runtime, action: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).where(AuditEvent.action == action))


def test_log_in_and_out(client, web_runtime) -> None:
    log_in(client, LENE.upper())
    assert _count(web_runtime, "login") == 1
    page = client.get("/login")
    token = csrf_token(client)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert page.status_code == 200
    assert _count(web_runtime, "logout") == 1


def test_wrong_password_is_refused_and_throttled(client, web_runtime) -> None:
    token = csrf_token(client)
    for _ in range(5):
        answer = client.post("/login", data={"email": LENE, "password": "forkert", "csrf_token": token})
        assert answer.status_code == 401
        assert "Forkert e-mailadresse eller adgangskode" in answer.get_data(as_text=True)
    # Now even the right password is refused until the window has passed.
    answer = client.post("/login", data={"email": LENE, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 401
    assert "For mange mislykkede forsøg" in answer.get_data(as_text=True)
    assert _count(web_runtime, "login_failed") == 5
    assert _count(web_runtime, "login") == 0


def test_login_without_csrf_token_is_refused(client) -> None:
    answer = client.post("/login", data={"email": LENE, "password": PASSWORD})
    assert answer.status_code == 400


def test_security_headers_and_cookie_flags(client) -> None:
    answer = client.get("/login")
    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    cookie = answer.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_next_parameter_cannot_leave_the_site(client) -> None:
    token = csrf_token(client)
    answer = client.post(
        "/login",
        data={"email": LENE, "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"


def test_https_forms_work_without_a_referer(make_settings, sqlite_url, password_hash) -> None:
    """Browsers send no Referer (Referrer-Policy: no-referrer); HTTPS posts must still pass."""
    from sqlalchemy import update

    from app.db import make_engine, make_sessionmaker, sync_people
    from app.models import Person
    from app.runtime import Runtime
    from app.web import create_app

    settings = make_settings(database={"url": sqlite_url}, instance={"secure_cookies": True})
    engine = make_engine(settings.database_url)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    with runtime.sessions.begin() as s:
        sync_people(s, settings)
        s.flush()
        s.execute(update(Person).values(password_hash=password_hash))
    client = create_app(runtime=runtime).test_client()
    page = client.get("/login", base_url="https://dubu.korsbaek.dk")
    assert "Secure" in page.headers["Set-Cookie"]
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    answer = client.post("/login", base_url="https://dubu.korsbaek.dk",
                         data={"email": LENE, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303
    runtime.dispose()


def test_refused_form_goes_back_to_its_ticket(client, web_runtime) -> None:
    from tests.web.factories import make_ticket

    with web_runtime.sessions.begin() as s:
        tid = make_ticket(s).id
    log_in(client, LENE)
    token = csrf_token(client, f"/tickets/{tid}")
    answer = client.post(f"/tickets/{tid}/notes", data={"body": "  ", "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/tickets/{tid}"
    assert "Skriv en note." in client.get(f"/tickets/{tid}").get_data(as_text=True)
