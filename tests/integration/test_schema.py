"""The migrations make the schema the models describe, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db import make_engine
from app.models import Base
from app.services.search import is_search_object


def _include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    """Everything but the hand-made search index (FTS5 tables, trigram indexes)."""
    return not (reflected and compare_to is None and is_search_object(name, type_))


def test_migrations_match_models(db_url: str) -> None:
    """No model change is left without a migration."""
    engine = make_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _include})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []
