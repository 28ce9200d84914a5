"""Alembic environment: runs against the engine handed over by app.db.init_db."""

from alembic import context
from sqlalchemy import create_engine

from app.models import Base

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
    )
    with context.begin_transaction():
        context.run_migrations()
