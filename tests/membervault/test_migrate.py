"""The Alembic migrations and the SQLAlchemy models describe the same schema, and the
migrations set what models cannot say (storage settings)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from membervault.models import Base
from tests.conftest import BACKEND
from vaultkernel.database import create_db_engine


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


@pytest.mark.skipif(BACKEND != "postgresql", reason="a PostgreSQL storage setting")
def test_access_log_reads_are_stored_without_a_compression_attempt(database_url: str) -> None:
    """pglz found nothing to save in a page's packed ids and cost 1.5-2 ms per entry."""
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            storage = connection.scalar(sa.text(
                "SELECT attstorage FROM pg_attribute "
                "WHERE attrelid = 'access_log'::regclass AND attname = 'reads'"))
    finally:
        engine.dispose()
    assert storage == "e"
