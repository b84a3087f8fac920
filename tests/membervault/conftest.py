"""What the migration tests share: an empty database of the backend under test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import BACKEND
from vaultkernel.database import create_db_engine


@pytest.fixture
def blank_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of the backend under test, for migrations of its own."""
    if BACKEND != "postgresql":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server: str = request.getfixturevalue("postgres_server_url")
    admin = create_db_engine(server, isolation_level="AUTOCOMMIT")
    name = f"mv_migrate_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
