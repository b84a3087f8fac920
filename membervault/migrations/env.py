"""Alembic environment: the URL and the connection come from membervault, not an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from membervault.models import Base
from vaultkernel.database import create_db_engine

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:  # also when a migration refuses (its connection must not linger in the pool)
        engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
