"""Fixtures of the web view's tests: the app on the test database, people with passwords."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from app.models import Person
from app.runtime import Runtime
from app.services.auth import hash_password
from app.web import create_app

PASSWORD = "korrekt-hest-batteri"


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2 hash of PASSWORD, made once (hashing is slow on purpose)."""
    return hash_password(PASSWORD)


@pytest.fixture
def web_runtime(runtime: Runtime, password_hash: str) -> Runtime:
    """The test runtime with every configured person given PASSWORD."""
    with runtime.sessions.begin() as session:
        session.execute(update(Person).values(password_hash=password_hash))
    return runtime


@pytest.fixture
def app(web_runtime: Runtime) -> Flask:
    """The web app on the test database."""
    flask_app = create_app(runtime=web_runtime)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    """A test client with cookies."""
    with app.test_client() as test_client:
        yield test_client


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a form on `path`."""
    import re

    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def log_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    """Log `client` in as `email`."""
    token = csrf_token(client)
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
