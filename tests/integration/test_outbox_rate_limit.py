"""The acknowledgement rate limit counts exactly the automatic mails to one address, on both
databases: the query narrows rows by the JSON text of the address, which must neither miss an
address with non-ASCII letters nor let LIKE's wildcards ('_', '%') count someone else's mail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.db import make_engine, make_sessionmaker
from app.mail.notifications import automatic_mails_last_hour
from app.mail.outbox import enqueue
from app.runtime import Runtime

NOW = datetime(2024, 4, 9, 8, 0, tzinfo=UTC)


@pytest.fixture
def runtime_db(make_settings, db_url: str) -> Iterator[Runtime]:
    """A runtime on the test database (SQLite and PostgreSQL)."""
    settings = make_settings(database={"url": db_url})
    engine = make_engine(settings.database_url)
    runtime = Runtime(settings, engine, make_sessionmaker(engine), now=lambda: NOW)
    yield runtime
    runtime.dispose()


def _queue(session: Any, runtime: Runtime, to: list[str], *, automatic: bool = True,
           at: datetime = NOW) -> None:
    """One outbox row to `to`."""
    enqueue(session, runtime.settings, kind="ack", to=to, subject="Kvittering",
            body_text="Tak for din henvendelse.", automatic=automatic, now=at)


def test_counts_only_the_address_itself(runtime_db: Runtime) -> None:
    """Wildcards in an address match nothing else; other recipients of a mail still count."""
    with runtime_db.sessions.begin() as session:
        _queue(session, runtime_db, ["a_b@korsbaek.dk"])
        _queue(session, runtime_db, ["axb@korsbaek.dk"])
        _queue(session, runtime_db, ["50%rabat@korsbaek.dk"])
        _queue(session, runtime_db, ["lene.mortensen@korsbaek.dk", "a_b@korsbaek.dk"])
        _queue(session, runtime_db, ["ola_b@korsbaek.dk"])
        session.flush()
        assert automatic_mails_last_hour(session, "a_b@korsbaek.dk", NOW) == 2
        assert automatic_mails_last_hour(session, "axb@korsbaek.dk", NOW) == 1
        assert automatic_mails_last_hour(session, "50%rabat@korsbaek.dk", NOW) == 1
        assert automatic_mails_last_hour(session, "5%rabat@korsbaek.dk", NOW) == 0
        assert automatic_mails_last_hour(session, "b@korsbaek.dk", NOW) == 0


def test_non_ascii_address_and_the_hour(runtime_db: Runtime) -> None:
    """An address with Danish letters is counted; older and manual mail is not."""
    address = "søren.ærø@korsbæk.dk"
    with runtime_db.sessions.begin() as session:
        _queue(session, runtime_db, [address])
        _queue(session, runtime_db, [address.upper()])  # the outbox keeps addresses lower-case
        _queue(session, runtime_db, [address], at=NOW - timedelta(minutes=61))
        _queue(session, runtime_db, [address], automatic=False)
        session.flush()
        assert automatic_mails_last_hour(session, address, NOW) == 2
        assert automatic_mails_last_hour(session, address, NOW + timedelta(hours=1)) == 0
