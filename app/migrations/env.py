"""Alembic environment: runs against the engine handed over by app.db.init_db."""

from alembic import context
from sqlalchemy import create_engine

from app.models import Base
from app.services.search import is_search_object


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    """Leave out the search index migration 0002 made by hand (no model describes it)."""
    return not (reflected and compare_to is None and is_search_object(name, type_))


config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic` run by hand: take the URL from the command line
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
