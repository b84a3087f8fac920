"""A database with the kernel's own small tables: a SQLite file, or the test run's
PostgreSQL database under MEMBERVAULT_TEST_DATABASE=postgresql (tables dropped after)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.conftest import BACKEND
from vaultkernel.database import Database, UTCDateTime


class KernelTables(DeclarativeBase):
    """Not the service's metadata: these tables exist only while a test runs."""


class Note(KernelTables):
    __tablename__ = "kernel_test_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Job(KernelTables):
    __tablename__ = "kernel_test_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(20), default="open")
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if BACKEND == "postgresql":
        url: str = request.getfixturevalue("postgres_server_url")
    else:
        url = f"sqlite:///{tmp_path / 'kernel.db'}"
    database = Database.from_url(url)
    KernelTables.metadata.drop_all(database.engine)
    KernelTables.metadata.create_all(database.engine)
    yield database
    KernelTables.metadata.drop_all(database.engine)
    database.dispose()
