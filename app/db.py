"""Engines, sessions and the schema: one place that knows how to reach the database.

`init_db` runs the Alembic migrations (create or upgrade); `session_scope` is the one
transaction per message or request, committed in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from app.models import Person
from app.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        if url not in ("sqlite://", "sqlite:///:memory:"):
            path = url.split("sqlite:///", 1)[-1]
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Turn on what SQLite leaves off by default."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted mail (retention) is overwritten, not left readable in the file's free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(engine: Engine) -> AlembicConfig:
    """An Alembic configuration bound to this engine (no alembic.ini needed)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def init_db(engine: Engine) -> None:
    """Create the schema, or upgrade it to the newest migration."""
    command.upgrade(alembic_config(engine), "head")


def sync_people(session: Session, settings: Settings) -> None:
    """Make the people table match the configuration; passwords and absence set later stay."""
    configured = {p.email: p for p in settings.people}
    existing = {p.email: p for p in session.scalars(select(Person))}
    for email, conf in configured.items():
        person = existing.get(email) or Person(email=email)
        person.name = conf.name
        person.role = conf.role.value
        person.areas = [a.value for a in conf.areas]
        person.may_forward = conf.may_forward
        person.phone = conf.phone
        person.active = True
        if conf.away_until is not None:
            person.away_until = conf.away_until
        session.add(person)
    for email, person in existing.items():
        if email not in configured:
            person.active = False
