"""Security review, log-in and sessions: redirects after log-in, log-out, password rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.errors import InvalidActionError
from app.services.auth import set_password
from tests.web.conftest import PASSWORD, csrf_token, log_in

LENE = "lene.mortensen@korsbaek.dk"


@pytest.mark.parametrize(
    "target",
    ["/\t/evil.example/x", "/\n/evil.example/x", "/\r\n/evil.example", "/\\evil.example",
     "https://evil.example/", "/ /evil.example", "//evil.example"],
)
def test_next_with_hidden_characters_stays_on_the_site(client, target: str) -> None:
    """Werkzeug and browsers drop a tab from a URL: `/<TAB>/evil` must not become `//evil`."""
    token = csrf_token(client)
    answer = client.post(
        "/login", data={"email": LENE, "password": PASSWORD, "csrf_token": token, "next": target}
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"


def test_next_to_a_page_of_the_site_is_followed(client) -> None:
    token = csrf_token(client)
    answer = client.post("/login", data={"email": LENE, "password": PASSWORD, "csrf_token": token,
                                         "next": "/noise?q=ferie"})
    assert answer.headers["Location"] == "/noise?q=ferie"


def test_a_copied_session_cookie_dies_at_log_out(app) -> None:
    """Someone who copied the cookie (a shared PC) is logged out with its owner."""
    owner, thief = app.test_client(), app.test_client()
    log_in(owner, LENE)
    cookie = owner.get_cookie("dubu_session")
    assert cookie is not None
    thief.set_cookie("dubu_session", cookie.value)
    assert thief.get("/").status_code == 200  # the copy works while the owner is logged in
    token = csrf_token(owner, "/")
    assert owner.post("/logout", data={"csrf_token": token}).status_code == 303
    answer = thief.get("/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_session_ends_ten_hours_after_its_log_in_however_busy(client, web_runtime) -> None:
    """Flask's own limit counts from the cookie's last signing (a flash message renews it)."""
    start = datetime(2024, 4, 10, 6, 0, tzinfo=UTC)
    web_runtime.now = lambda: start
    log_in(client, LENE)
    for hours in (3, 6, 9.9):
        web_runtime.now = lambda h=hours: start + timedelta(hours=h)
        assert client.get("/").status_code == 200
    web_runtime.now = lambda: start + timedelta(hours=10, minutes=1)
    answer = client.get("/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_log_in_again_after_log_out(client) -> None:
    log_in(client, LENE)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    log_in(client, LENE)
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    "password",
    ["lene.mortensen@korsbaek.dk", "lene.mortensen", "LENE.MORTENSEN1", "x" * 1025],
)
def test_weak_or_absurd_passwords_are_refused(web_runtime, password: str) -> None:
    """Not the address or its name part (the first guess), nor a megabyte to hash."""
    with web_runtime.sessions() as session, pytest.raises(InvalidActionError):
        set_password(session, LENE, password)


def test_passwords_are_hashed_with_argon2id_at_the_rfc_9106_cost(web_runtime) -> None:
    """A stored hash names its own parameters; a weaker one would be rehashed at log-in."""
    with web_runtime.sessions.begin() as session:
        stored = set_password(session, LENE, "en-lang-og-god-sætning").password_hash
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
