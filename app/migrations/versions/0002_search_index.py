"""search index for the queue's free-text search

SQLite: two FTS5 tables with the trigram tokenizer (substring search through the index), kept
in step with `ticket` and `inbound_message` by triggers, so every writer (ingest, web, retention,
privacy masking) keeps the index right without knowing about it. PostgreSQL: pg_trgm GIN
indexes on the searched columns; if the database user may not create the extension, the
migration logs that and leaves search unindexed (correct, only slower).

Note for later migrations: SQLite batch mode rebuilds a table by copy and rename, which drops
its triggers. A migration that batch-alters `ticket` or `inbound_message` must create the
triggers below again afterwards (tests/integration/test_search.py would notice stale results).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 17:10:00
"""

import logging

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# What the search reads: a ticket's subject and requester, and the text of its inbound mail.
SQLITE_CREATE = (
    "CREATE VIRTUAL TABLE ticket_search USING fts5(subject, requester, requester_name, tokenize='trigram')",
    "CREATE VIRTUAL TABLE message_search USING fts5(text, ticket_id UNINDEXED, tokenize='trigram')",
)
SQLITE_TRIGGERS = (
    """CREATE TRIGGER ticket_search_ai AFTER INSERT ON ticket BEGIN
        INSERT INTO ticket_search(rowid, subject, requester, requester_name)
        VALUES (new.id, new.subject, new.requester, new.requester_name);
    END""",
    """CREATE TRIGGER ticket_search_au AFTER UPDATE OF subject, requester, requester_name
    ON ticket BEGIN
        DELETE FROM ticket_search WHERE rowid = old.id;
        INSERT INTO ticket_search(rowid, subject, requester, requester_name)
        VALUES (new.id, new.subject, new.requester, new.requester_name);
    END""",
    """CREATE TRIGGER ticket_search_ad AFTER DELETE ON ticket BEGIN
        DELETE FROM ticket_search WHERE rowid = old.id;
    END""",
    """CREATE TRIGGER message_search_ai AFTER INSERT ON inbound_message BEGIN
        INSERT INTO message_search(rowid, text, ticket_id) VALUES (new.id, new.text, new.ticket_id);
    END""",
    """CREATE TRIGGER message_search_au AFTER UPDATE OF text, ticket_id ON inbound_message BEGIN
        DELETE FROM message_search WHERE rowid = old.id;
        INSERT INTO message_search(rowid, text, ticket_id) VALUES (new.id, new.text, new.ticket_id);
    END""",
    """CREATE TRIGGER message_search_ad AFTER DELETE ON inbound_message BEGIN
        DELETE FROM message_search WHERE rowid = old.id;
    END""",
)
SQLITE_FILL = (
    ("INSERT INTO ticket_search(rowid, subject, requester, requester_name) "
     "SELECT id, subject, requester, requester_name FROM ticket"),
    "INSERT INTO message_search(rowid, text, ticket_id) SELECT id, text, ticket_id FROM inbound_message",
)
SQLITE_TRIGGER_NAMES = ("ticket_search_ai", "ticket_search_au", "ticket_search_ad",
                        "message_search_ai", "message_search_au", "message_search_ad")

# (index name, table, column); the `_trgm` suffix is how the schema comparison recognises them.
POSTGRES_INDEXES = (
    ("ix_ticket_subject_trgm", "ticket", "subject"),
    ("ix_ticket_requester_trgm", "ticket", "requester"),
    ("ix_ticket_requester_name_trgm", "ticket", "requester_name"),
    ("ix_inbound_message_text_trgm", "inbound_message", "text"),
)


def upgrade() -> None:
    """Create the search index for this database."""
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_CREATE + SQLITE_FILL + SQLITE_TRIGGERS:
            op.execute(statement)
    else:
        _upgrade_postgresql()


def _upgrade_postgresql() -> None:
    """pg_trgm GIN indexes, or none (with a log line) when the extension cannot be had."""
    bind = op.get_bind()
    # A savepoint, so a refused CREATE EXTENSION does not abort the migration's transaction.
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        savepoint.commit()
    except Exception as error:  # noqa: BLE001 - any refusal means: no index, search still works
        savepoint.rollback()
        log.warning("pg_trgm is not available (%s): the queue search stays unindexed and slow "
                    "on large databases; a database owner can run CREATE EXTENSION pg_trgm and "
                    "then `alembic downgrade 0001 && alembic upgrade head`.", error)
        return
    for name, table, column in POSTGRES_INDEXES:
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    """Remove the search index (the pg_trgm extension stays: others may use it)."""
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS message_search")
        op.execute("DROP TABLE IF EXISTS ticket_search")
    else:
        for name, _table, _column in POSTGRES_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
