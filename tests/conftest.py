"""Fixtures every test layer shares: settings, databases (SQLite and PostgreSQL), an SMTP server.

Servers are real. On a developer's laptop a test whose server is missing is skipped with a clear
message; under CI=true (CI sets it) such a skip is a failure, so CI always runs them all.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.db import init_db, make_engine, make_sessionmaker, sync_people
from app.models import Base
from app.runtime import Runtime
from app.settings import Settings, load_settings, settings_from_dict

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPORA = SHARED / "corpora"
DUBU_DEV = CORPORA / "dubu-dev"
PG_ADMIN_URL = os.environ.get("DUBU_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def skip_or_fail(message: str) -> None:
    """Skip on a laptop; fail under CI, where every server must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"required under CI=true: {message}")
    pytest.skip(message)


def screenshots_dir() -> Path:
    """Where browser tests save screenshots: docs/screenshots when DUBU_TRIAGE_SCREENSHOTS=1
    (the documented command that refreshes them), else a temporary folder, so that an ordinary
    test run leaves the work tree clean."""
    if os.environ.get("DUBU_TRIAGE_SCREENSHOTS") == "1":
        folder = ROOT / "docs" / "screenshots"
    else:
        folder = Path(tempfile.gettempdir()) / "dubu-triage-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def dubu_dev() -> Path:
    """The 240 labelled Danish mails, read from ../shared."""
    if not (DUBU_DEV / "labels.csv").exists():
        skip_or_fail(f"the labelled corpus is not at {DUBU_DEV}")
    return DUBU_DEV


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The real-world mail corpora, read from ../shared (never copied into the project)."""
    if not CORPORA.is_dir():
        skip_or_fail(f"the mail corpora are not at {CORPORA}")
    return CORPORA


def example_config() -> dict[str, Any]:
    """The Korsbæk example configuration as a dict, for tests to modify."""
    import tomllib

    with (ROOT / "config.example.toml").open("rb") as handle:
        return tomllib.load(handle)


@pytest.fixture
def make_settings(tmp_path: Path):
    """Factory: Korsbæk settings with overrides, an instance folder in tmp_path."""

    def factory(**sections: dict[str, Any]) -> Settings:
        data = example_config()
        data["instance"].update(path=str(tmp_path / "instance"), secure_cookies=False)
        data["instance"]["secret_key"] = "test-secret"
        data["triage"]["rules_dir"] = str(ROOT / "routing_rules")
        data["database"]["url"] = f"sqlite:///{tmp_path / 'instance' / 'test.db'}"
        for name, values in sections.items():
            if name == "people":
                data["people"] = values
            else:
                data.setdefault(name, {}).update(values)
        return settings_from_dict(data, source="test")

    return factory


# ---- databases ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrations once, not per test)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[str]:
    """A database of its own for this test run on the local PostgreSQL, dropped at the end."""
    try:
        admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as error:  # noqa: BLE001 - any failure means: no server here
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {error}")
    name = f"dubu_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    init_db(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    """Empty every table and restart the ids, so each test starts clean."""
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path) -> str:
    """A migrated, empty database: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(_sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("_postgres_database")
    _truncate_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A migrated, empty SQLite database only (for tests that need no second backend)."""
    path = tmp_path / "test.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(make_settings, db_url: str) -> Settings:
    """Korsbæk settings on the test database (both backends)."""
    return make_settings(database={"url": db_url})


@pytest.fixture
def runtime_for() -> Iterator[Any]:
    """Factory: a runtime on given settings, the configured people in its database, and its
    clock fixed at `now` when given; disposed after the test."""
    made: list[Runtime] = []

    def factory(settings: Settings, now: Any = None) -> Runtime:
        engine = make_engine(settings.database_url)
        rt = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
        if now is not None:
            rt.now = lambda: now
        with rt.sessions.begin() as session:
            sync_people(session, settings)
        made.append(rt)
        return rt

    yield factory
    for rt in made:
        rt.dispose()


@pytest.fixture
def runtime(settings: Settings, runtime_for) -> Runtime:
    """A runtime on the test database, with the configured people in it."""
    return runtime_for(settings)


# ---- SMTP --------------------------------------------------------------------------------


@dataclass
class SmtpServer:
    """A real SMTP server (aiosmtpd) on a loopback port that keeps what it receives."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    controller: Any = None
    lock: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait until at least `count` messages have arrived; return them all."""
        with self.lock:
            self.lock.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
            return list(self.messages)

    def stop(self) -> None:
        """Take the server down (to simulate an outage)."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def start(self) -> None:
        """Bring the server (back) up on the same port."""
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                msg = message_from_bytes(envelope.content, policy=policy.default)
                with server.lock:
                    server.messages.append(msg)  # type: ignore[arg-type]
                    server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                    server.lock.notify_all()
                return "250 OK"

        self.controller = Controller(Handler(), hostname=self.host, port=self.port)
        self.controller.start()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server; settings for it come from `smtp_settings`."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        skip_or_fail("aiosmtpd is not installed")
    server = SmtpServer(host="127.0.0.1", port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(smtp_server: SmtpServer) -> dict[str, Any]:
    """The [smtp] section that points at the test SMTP server."""
    return {
        "host": smtp_server.host,
        "port": smtp_server.port,
        "security": "none",
        "username": "",
        "password": "",
    }


__all__ = ["example_config", "free_port", "load_settings", "message_from_bytes", "skip_or_fail"]
