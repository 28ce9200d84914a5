"""The queue's free-text search through the search index (migration 0002), on SQLite and
PostgreSQL: the same tickets as a plain case-insensitive substring scan, for every kind of text
a superuser types, and nothing left of a ticket retention deleted."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from app.db import alembic_config, init_db, make_engine, make_sessionmaker, sync_people
from app.models import InboundMessage, Ticket
from app.reports.retention import run_retention
from app.runtime import Runtime
from app.services import search, tickets
from app.services.search import is_search_object
from app.services.tickets import QueueFilter
from tests.conftest import PG_ADMIN_URL
from tests.integration.test_retention import NOW, closed_ticket
from tests.web.factories import make_message, make_ticket, person

LENE = "lene.mortensen@korsbaek.dk"

# (subject, requester, text of the first mail, text of a second mail or None)
TICKETS = (
    ("Netværksmøde om DUBU", "anne.hansen@korsbaek.dk", "Hej, hvornår er mødet?\n", None),
    ("NETVÆRK nede på Ærø", "bo.ravn@aeroe.dk", "Intet virker.\n", None),
    ("Spørgsmål om bevilling", "cw12@korsbaek.dk", "Første mail.\n",
     "Anden mail: handleplanen for barnet forsvandt i går.\n"),
    ("Rabat 100% på kurset", "lise@korsbaek.dk", "Er det 100 procent?\n", None),
    ("Felt a_b mangler", "ole@korsbaek.dk", "Feltet hedder a_b i skabelonen.\n", None),
    ('Citat "underretning" i brev', "kim@korsbaek.dk", 'Der står "underretning" og NEAR(x).\n', None),
    ("Øl og æbler", "søren.ølgaard@korsbaek.dk", "Åbningstider for Å-huset.\n", None),
    ("AND OR NOT", "x@korsbaek.dk", "Fritekst med * og ^ og - tegn.\n", None),
    ("Sti C:\\temp\\dubu", "o'brien@korsbaek.dk", "Filen ligger i C:\\temp/a%b.\n", None),
)

QUERIES = (
    "netværk", "NETVÆRK", "Netværksmøde", "ærø", "ÆRØ", "handleplanen", "HANDLEPLANEN FOR",
    "anne.hansen@", "korsbaek.dk", "100%", "100%_", "a_b", "a%b", "_b ", '"underretning"',
    '"', "near(x)", "ølgaard", "SØREN", "å-huset", "and or", "* og ^", "- tegn", "zzzz",
    "ning\" og", "bevilling", "o'brien", "'; drop table ticket; --", "c:\\temp", "\\temp/a",
    "temp/a%b", "/a%", "Anne Hansen", "mail", "ikke i nogen sag",
    # shorter than a trigram: the plain scan answers (ASCII case only on SQLite, so the cases
    # here stay within what both scans fold alike)
    "a_", "%", "OL", "øl", "ø", "_", "b",
)


def _fill(session: Session) -> None:
    """The varied tickets, one of them with a second mail."""
    for subject, requester, first, second in TICKETS:
        ticket = make_ticket(session, subject=subject, requester=requester, text=first)
        if second:
            make_message(session, ticket=ticket, kind="followup", subject="Sv: " + subject,
                         sender=requester, text=second)


def _expected(session: Session, query: str) -> set[str]:
    """The subjects a case-insensitive substring scan finds, worked out here in Python."""
    needle = query.strip().lower()
    found = set()
    for ticket in session.scalars(select(Ticket)):
        texts = [m.text for m in session.scalars(
            select(InboundMessage).where(InboundMessage.ticket_id == ticket.id))]
        fields = [ticket.subject, ticket.requester, ticket.requester_name, *texts]
        if any(needle in field.lower() for field in fields):
            found.add(ticket.subject)
    return found


def _found(session: Session, query: str) -> set[str]:
    """The subjects the queue's search shows (all tickets, one page is enough here)."""
    page = tickets.list_queue(session, person(session, LENE), QueueFilter(view="all", q=query))
    assert not page.has_next
    return {t.subject for t in page.rows}


@pytest.mark.parametrize("frequent", [False, True], ids=["rare", "frequent"])
def test_search_finds_what_a_substring_scan_finds(runtime: Runtime, monkeypatch: pytest.MonkeyPatch,
                                                  frequent: bool) -> None:
    """Every query finds exactly the tickets a plain substring scan finds, whether SQLite
    lists the matches first (rare texts) or checks ticket by ticket (texts in many mails)."""
    if frequent:
        monkeypatch.setattr(search, "FREQUENT_SQLITE", 1)
        monkeypatch.setattr(search, "FREQUENT_POSTGRESQL", 1)
    with runtime.sessions.begin() as s:
        _fill(s)
    with runtime.sessions() as s:
        for query in QUERIES:
            assert _found(s, query) == _expected(s, query), query
        # A few answers spelled out, so the reference itself is checked too.
        assert _found(s, "NETVÆRK") == {"Netværksmøde om DUBU", "NETVÆRK nede på Ærø"}
        assert _found(s, "handleplanen") == {"Spørgsmål om bevilling"}  # its second mail
        assert _found(s, "100%_") == set()
        assert _found(s, "a_b") == {"Felt a_b mangler"}
        assert _found(s, "a%b") == {"Sti C:\\temp\\dubu"}  # not "Felt a_b mangler"
        assert _found(s, "o'brien") == {"Sti C:\\temp\\dubu"}
        assert _found(s, "ølgaard") == {"Øl og æbler"}
        assert _found(s, "  ærø ") == {"NETVÆRK nede på Ærø"}


def test_search_follows_changes(runtime: Runtime) -> None:
    """A renamed ticket is found by its new subject only; mail added to a ticket later (a
    restored noise mail, say) makes it findable by that mail's text."""
    with runtime.sessions.begin() as s:
        ticket = make_ticket(s, subject="Gammelt emne", text="intet særligt\n")
        noise = make_message(s, kind="noise", text="Autosvar: kvitteringsmail\n")
    with runtime.sessions() as s:
        assert _found(s, "kvitteringsmail") == set()  # noise belongs to no ticket
    with runtime.sessions.begin() as s:
        s.get(Ticket, ticket.id).subject = "Nyt emne om ydelser"
        s.get(InboundMessage, noise.id).ticket_id = ticket.id
    with runtime.sessions() as s:
        assert _found(s, "gammelt") == set()
        assert _found(s, "ydelser") == {"Nyt emne om ydelser"}
        assert _found(s, "kvitteringsmail") == {"Nyt emne om ydelser"}


def _index_mentions(session: Session, word: str) -> int:
    """How many search-index rows (SQLite's FTS tables) or searched rows (PostgreSQL, whose
    trigram index lives in the table itself) still hold `word`."""
    if session.get_bind().dialect.name == "sqlite":
        like = f"%{word}%"
        return sum(int(session.scalar(text(sql), {"w": like}) or 0) for sql in (
            "SELECT count(*) FROM ticket_search WHERE subject LIKE :w",
            "SELECT count(*) FROM message_search WHERE text LIKE :w",
            "SELECT count(*) FROM message_search_content WHERE c0 LIKE :w",
        ))
    return int(session.scalar(select(func.count()).select_from(InboundMessage)
                              .where(InboundMessage.text.icontains(word))) or 0) + int(
        session.scalar(select(func.count()).select_from(Ticket)
                       .where(Ticket.subject.icontains(word))) or 0)


def test_retention_leaves_nothing_searchable(runtime: Runtime) -> None:
    """After retention the deleted ticket's words are neither found nor in the index."""
    with runtime.sessions.begin() as s:
        old = closed_ticket(s, 500, "Rabarberkompot i gammel sag")
        make_message(s, ticket=old, kind="followup", text="Stikkelsbærgrød til barnet\n",
                     received_at=old.created_at + timedelta(days=1))
        closed_ticket(s, 10, "Rabarber i ny sag")
    with runtime.sessions() as s:
        assert _found(s, "rabarberkompot") == {"Rabarberkompot i gammel sag"}
        assert _found(s, "stikkelsbærgrød") == {"Rabarberkompot i gammel sag"}
        assert _index_mentions(s, "stikkelsbær") > 0
    with runtime.sessions.begin() as s:
        assert len(run_retention(s, runtime.settings, NOW).tickets) == 1
    with runtime.sessions() as s:
        assert _found(s, "rabarberkompot") == set()
        assert _found(s, "stikkelsbærgrød") == set()
        assert _found(s, "rabarber") == {"Rabarber i ny sag"}
        assert _index_mentions(s, "rabarberkompot") == 0
        assert _index_mentions(s, "stikkelsbær") == 0


def _search_objects(runtime: Runtime) -> set[str]:
    """The names of the search index's tables, triggers and indexes in the database."""
    with runtime.engine.connect() as conn:
        if runtime.engine.dialect.name == "sqlite":
            return set(conn.scalars(text(
                "SELECT name FROM sqlite_master WHERE name LIKE '%search%' AND type != 'trigger'"
                " UNION SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        return set(conn.scalars(text(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%\\_trgm'")))


def _index_bytes(session: Session) -> bytes:
    """Every byte of SQLite's FTS5 segments (where the trigrams are kept)."""
    blobs = session.scalars(text(
        "SELECT block FROM message_search_data UNION ALL SELECT block FROM ticket_search_data"))
    return b"".join(bytes(b) for b in blobs if b)


def test_purge_takes_deleted_trigrams_out_of_the_file(sqlite_url: str, make_settings) -> None:
    """After deletion FTS5 still holds the deleted text's trigrams in old segments; the purge
    (which retention runs) rewrites them away. 'ʬʬʬ' is a trigram no other text shares."""
    settings = make_settings(database={"url": sqlite_url})
    engine = make_engine(sqlite_url)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    with runtime.sessions.begin() as s:
        sync_people(s, settings)
        doomed = make_ticket(s, subject="Slettes ʬʬʬ", text="Barnets navn ʬʬʬ\n")
        make_ticket(s, subject="Bliver", text="Bliver her\n")
    mark = "ʬʬʬ".encode()
    with runtime.sessions.begin() as s:
        s.execute(delete(InboundMessage).where(InboundMessage.ticket_id == doomed.id))
        s.execute(delete(Ticket).where(Ticket.id == doomed.id))
    with runtime.sessions() as s:
        assert _found(s, "ʬʬʬ") == set()
        assert mark in _index_bytes(s)  # only the purge removes it
    with runtime.sessions.begin() as s:
        search.purge_deleted(s)
    with runtime.sessions() as s:
        assert mark not in _index_bytes(s)
        assert _found(s, "bliver") == {"Bliver"}
    runtime.dispose()


def test_migration_down_and_up_rebuilds_the_index(runtime: Runtime) -> None:
    """Migration 0002 indexes the tickets already there, and its downgrade removes it all."""
    with runtime.sessions.begin() as s:
        _fill(s)
    config = alembic_config(runtime.engine)
    command.downgrade(config, "0001")
    try:
        assert _search_objects(runtime) == set()
    finally:
        command.upgrade(config, "head")
    expected = ({"ticket_search", "message_search", "ticket_search_ai", "ticket_search_au",
                 "ticket_search_ad", "message_search_ai", "message_search_au", "message_search_ad"}
                if runtime.engine.dialect.name == "sqlite" else
                {"ix_ticket_subject_trgm", "ix_ticket_requester_trgm",
                 "ix_ticket_requester_name_trgm", "ix_inbound_message_text_trgm"})
    assert expected <= _search_objects(runtime)
    with runtime.sessions() as s:
        for query in ("handleplanen", "NETVÆRK", "a_b", "100%_"):
            assert _found(s, query) == _expected(s, query), query


@pytest.mark.parametrize(("name", "type_", "hidden"), [
    ("ticket_search", "table", True), ("message_search_data", "table", True),
    ("ix_inbound_message_text_trgm", "index", True), ("ticket", "table", False),
    ("inbound_message", "table", False), ("ix_ticket_created", "index", False),
    ("search", "table", False), ("ticket_search_extra", "table", False),
])
def test_schema_comparison_hides_only_the_search_index(name: str, type_: str, hidden: bool) -> None:
    """The schema test still sees every table and index but the search index's own."""
    assert is_search_object(name, type_) is hidden


@pytest.mark.postgres
def test_migration_without_pg_trgm_rights_still_succeeds(
        _postgres_database: str, caplog: pytest.LogCaptureFixture) -> None:
    """A database user who may not create the extension still gets a migrated schema (search
    unindexed, a warning says so), and search still works."""
    suffix = uuid.uuid4().hex[:8]
    role, name = f"dubu_plain_{suffix}", f"dubu_notrgm_{suffix}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f'REVOKE CREATE ON DATABASE "{name}" FROM PUBLIC'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    owner = make_engine(f"{base}/{name}")
    with owner.begin() as conn:
        conn.execute(text(f'GRANT ALL ON SCHEMA public TO "{role}"'))
    owner.dispose()
    engine = make_engine(base.replace("postgres@", f"{role}@", 1) + f"/{name}")
    try:
        with caplog.at_level(logging.WARNING):
            init_db(engine)
        assert "pg_trgm is not available" in caplog.text
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0002"
        with make_sessionmaker(engine).begin() as s:
            make_ticket(s, subject="Uden indeks", text="Netværksmødet er flyttet\n")
        with make_sessionmaker(engine)() as s:
            found = s.scalars(select(Ticket.subject).where(search.matches(s, "NETVÆRKSMØDET")))
            assert list(found) == ["Uden indeks"]
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
