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
