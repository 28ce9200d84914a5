"""The long-lived things a process needs, built once from the settings.

Entry points (CLI commands, the worker, the web app) open a Runtime; services take the pieces
they need from it. Nothing here starts a scheduler or touches the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_sessionmaker
from app.settings import Settings

if TYPE_CHECKING:
    from app.triage.classifier import Classifier


def _utcnow() -> datetime:
    """The wall clock, UTC."""
    return datetime.now(UTC)


@dataclass
class Runtime:
    """Settings, database and classifier of one process; `now` is replaceable in tests."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    now: Callable[[], datetime] = field(default=_utcnow)

    @cached_property
    def classifier(self) -> Classifier:
        """The classifier, loaded on first use (rules, plus the model where there is one)."""
        from app.triage.classifier import load_classifier

        return load_classifier(self.settings)

    def dispose(self) -> None:
        """Close the database connections."""
        self.engine.dispose()


def open_runtime(settings: Settings, **engine_kwargs: Any) -> Runtime:
    """Connect to the configured database (the schema is made by `init-db`, not here)."""
    engine = make_engine(settings.database_url, **engine_kwargs)
    return Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
