"""Engine, declarative base and the unit of work.

Nothing is created at import time: the composition root builds the engine from settings
and hands a :class:`UnitOfWork` down to the use cases, which commit it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from vaultkernel.private_files import ensure_private

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on every database (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is dt.UTC:
            return value  # the common case, on every bulk write
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def json_dumps(value: Any) -> str:
    """JSON columns are written with orjson: the same JSON values as ``json.dumps`` (int
    dict keys become strings there too), compact and about 10x faster, which matters on
    the access log's bulk inserts (two JSON columns per entry; see docs/performance.md)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and pick psycopg 3 as the driver."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    options: dict[str, Any] = {"hide_parameters": True,  # never echo bound values in errors
                               "json_serializer": json_dumps}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            ensure_private(parsed.database)  # SQLite gives its -wal and -shm the same mode
        options["connect_args"] = {"check_same_thread": False}
    else:
        options["pool_pre_ping"] = True
    options.update(kwargs)
    engine = create_engine(url, **options)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted content is overwritten, so shredded keys do not linger in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


class UnitOfWork:
    """One session and one transaction, as a context manager.

    A use case takes the unit of work and calls :meth:`commit` when its change is
    complete; leaving the ``with`` block rolls back whatever was not committed (an error,
    or a caller that only read) and closes the session::

        with database.unit_of_work() as uow:
            grant_consent(uow, ...)   # commits
    """

    def __init__(self, factory: sessionmaker[Session]):
        self.session: Session = factory()

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        # Closing ends the transaction with a rollback; objects already loaded stay
        # readable (detached). After an error they are expired too, being stale.
        try:
            if exc_type is not None:
                self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()

    @contextmanager
    def committing(self) -> Iterator[Session]:
        """A use case's change: committed when the block ends, rolled back if it raises
        (a refusal leaves nothing pending for whatever the request does next)::

            with uow.committing() as session:
                record = ledger.record_consent(session, ...)
        """
        try:
            yield self.session
        except BaseException:
            self.session.rollback()
            raise
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def close(self) -> None:
        self.session.close()


class Database:
    """The engine and its session factory, built once per process by the app factory."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_db_engine(url))

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    def ping(self) -> None:
        """Raises when the database does not answer (readiness checks)."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
