"""Alembic environment: one set of migrations for SQLite and PostgreSQL."""

from alembic import context

from fireline.db import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - `alembic` CLI use without fireline.db
    from fireline.config import get_settings
    from fireline.db import make_engine, normalize_url

    connection = make_engine(normalize_url(get_settings().database_url)).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
