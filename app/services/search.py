"""The queue's free-text search: which tickets mention a text, through the search index.

Semantics (the same on both databases): a case-insensitive substring match on the ticket's
subject, requester address and name, and the text of any of its inbound mails; `%` and `_` are
literal. SQLite answers from FTS5 trigram tables kept by triggers (migration 0002), PostgreSQL
from pg_trgm GIN indexes on the same columns. A trigram index cannot answer texts shorter than
three characters; those fall back to a plain scan (on SQLite that scan folds only ASCII case).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    String,
    Text,
    TextualSelect,
    bindparam,
    cast,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    union,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from app.models import InboundMessage, Ticket

MIN_INDEXED = 3  # a trigram index needs three characters
# From this many matching rows on, the tickets are checked one by one in the queue's order
# instead of listing every match first (which costs ~1 µs per match on SQLite, more on
# PostgreSQL, whose probe for it also costs ~1 µs per row); measured at 100k tickets with
# benchmarks/queue_page.py. SQLite's per-ticket check is dearer (~150 µs), so it waits longer.
FREQUENT_SQLITE = 20_000
FREQUENT_POSTGRESQL = 5_000
SQLITE_TABLES = ("ticket_search", "message_search")
_FTS_SHADOWS = ("_data", "_idx", "_content", "_docsize", "_config")


def is_search_object(name: str | None, type_: str) -> bool:
    """True for the index objects migration 0002 made by hand, which no model describes
    (the schema comparison leaves them out, and still sees every other difference)."""
    if not name:
        return False
    if type_ == "table":
        return any(name == t or name in {t + s for s in _FTS_SHADOWS} for t in SQLITE_TABLES)
    return type_ == "index" and name.endswith("_trgm")


def purge_deleted(session: Session) -> None:
    """Rewrite SQLite's search index without the entries of deleted rows.

    The triggers delete a row's entries at once (nothing finds it, no index table shows it),
    but FTS5 records a deletion as a marker beside the old segment, whose trigrams stay in the
    file until a merge. Retention calls this after deleting (~0.3 s at 100k tickets).
    PostgreSQL's index entries go with the dead rows at VACUUM; nothing to do here."""
    if session.get_bind().dialect.name != "sqlite":
        return
    for name in SQLITE_TABLES:
        session.execute(sql_text(f"INSERT INTO {name}({name}) VALUES ('optimize')"))


def fts_phrase(text: str) -> str:
    """`text` as one FTS5 phrase: every character literal, double quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def _scan(text: str) -> ColumnElement[bool]:
    """The plain substring scan (short texts, or a database without the index)."""
    in_mail = exists().where(InboundMessage.ticket_id == Ticket.id,
                             InboundMessage.text.icontains(text, autoescape=True))
    return or_(Ticket.subject.icontains(text, autoescape=True),
               Ticket.requester.icontains(text, autoescape=True),
               Ticket.requester_name.icontains(text, autoescape=True),
               in_mail)


def _sqlite_ids(text: str) -> TextualSelect:
    """Ticket ids whose subject/requester or mail text contain `text`, from the FTS tables.

    A trigram phrase matches exactly where the text occurs as a substring, case folded."""
    return sql_text(
        "SELECT rowid FROM ticket_search WHERE ticket_search MATCH :search_phrase "
        "UNION SELECT ticket_id FROM message_search WHERE message_search MATCH :search_phrase"
    ).bindparams(search_phrase=fts_phrase(text)).columns(column("rowid", Integer))


def _pg_contains(column: Any, text: str) -> ColumnElement[bool]:
    """`column ILIKE '%text%'` with `text` literal (escaped) and its pattern written into the
    statement: psycopg prepares a statement run five times, and PostgreSQL's generic plan for a
    pattern it cannot see scans every row (150 ms instead of 10 at 100k tickets)."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = bindparam(None, f"%{escaped}%", type_=String(), literal_execute=True)
    return cast(column, Text).ilike(pattern, escape="/")


def _postgresql_ids(text: str) -> CompoundSelect:
    """Ticket ids from each searched column on its own, so each can use its trigram index
    (one OR over the columns and the mail table would scan every ticket)."""
    return union(
        select(Ticket.id).where(_pg_contains(Ticket.subject, text)),
        select(Ticket.id).where(_pg_contains(Ticket.requester, text)),
        select(Ticket.id).where(_pg_contains(Ticket.requester_name, text)),
        select(InboundMessage.ticket_id).where(_pg_contains(InboundMessage.text, text)),
    )


def _sqlite_per_ticket(text: str) -> ColumnElement[bool]:
    """The same match asked of each ticket the query walks, through the index by rowid: for a
    text in very many mails, where walking the queue's order finds a page after a few rows
    while listing every match first would cost ~1 µs per match."""
    clause: ColumnElement[bool] = sql_text(  # type: ignore[assignment]  # a raw boolean SQL
        "(EXISTS (SELECT 1 FROM ticket_search WHERE ticket_search MATCH :search_phrase"
        " AND ticket_search.rowid = ticket.id)"
        " OR EXISTS (SELECT 1 FROM inbound_message AS searched WHERE searched.ticket_id = ticket.id"
        " AND EXISTS (SELECT 1 FROM message_search WHERE message_search MATCH :search_phrase"
        " AND message_search.rowid = searched.id)))"
    ).bindparams(search_phrase=fts_phrase(text))
    return clause


def _sqlite_frequent(session: Session, text: str) -> bool:
    """True if `text` is in FREQUENT_SQLITE rows of the indexes (counted no further)."""
    count = sql_text(
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM ticket_search WHERE ticket_search MATCH :p"
        " LIMIT :cap)) + (SELECT count(*) FROM (SELECT 1 FROM message_search"
        " WHERE message_search MATCH :p LIMIT :cap))")
    found = session.scalar(count, {"p": fts_phrase(text), "cap": FREQUENT_SQLITE})
    return int(found or 0) >= FREQUENT_SQLITE


def _postgresql_frequent(session: Session, text: str) -> bool:
    """True if `text` is in FREQUENT_POSTGRESQL rows of the searched columns (counted no
    further: a frequent text's scan stops early, a rare one's is answered by the index)."""
    cap: ColumnElement[int] = literal_column(str(int(FREQUENT_POSTGRESQL)))  # written in, like the pattern (see _pg_contains)
    probes = [select(column).where(_pg_contains(column, text)).limit(cap)
              for column in (Ticket.subject, Ticket.requester, Ticket.requester_name,
                             InboundMessage.text)]
    counts = [select(func.count()).select_from(probe.subquery()).scalar_subquery()
              for probe in probes]
    return int(session.scalar(select(sum(counts[1:], counts[0]))) or 0) >= FREQUENT_POSTGRESQL


def _postgresql_per_ticket(text: str) -> ColumnElement[bool]:
    """The plain per-ticket test, with the mail asked by a correlated LIMIT 1 lookup, which
    PostgreSQL cannot turn into a hash of every matching mail: the queue's order is walked and
    the page is full after a few rows."""
    first_mail = (select(InboundMessage.id)
                  .where(InboundMessage.ticket_id == Ticket.id,
                         _pg_contains(InboundMessage.text, text))
                  .limit(1).correlate(Ticket).scalar_subquery())
    return or_(_pg_contains(Ticket.subject, text), _pg_contains(Ticket.requester, text),
               _pg_contains(Ticket.requester_name, text), first_mail.is_not(None))


def matches(session: Session, text: str) -> ColumnElement[bool]:
    """A condition on Ticket: it mentions `text` (already stripped, not empty).

    Rare texts: the ids of every match, from the index. Texts in many rows (FREQUENT_*): each
    ticket the query walks (in the queue's order, stopping at a full page) is tested."""
    if len(text) < MIN_INDEXED:
        return _scan(text)
    if session.get_bind().dialect.name == "sqlite":
        if _sqlite_frequent(session, text):
            return _sqlite_per_ticket(text)
        return Ticket.id.in_(_sqlite_ids(text))
    if _postgresql_frequent(session, text):
        return _postgresql_per_ticket(text)
    return Ticket.id.in_(_postgresql_ids(text))
