"""Engine, declarative base and the unit of work.

Nothing is created at import time: the composition root builds the engine from settings
and hands a :class:`UnitOfWork` down to the use cases, which commit it.
"""

from __future__ import annotations

import datetime as dt
import select
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    DateTime,
    Engine,
    Executable,
    MetaData,
    QueuePool,
    Row,
    create_engine,
    event,
    insert,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
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


# Connections per process: 8 kept open, 8 more when busy. A request may hold its unit of
# work's connection while the access log's writer needs one (on SQLite taken from this
# pool per entry; on PostgreSQL kept, but taken from it again after a failure), and a few
# paths open a second unit of work; so the server runs requests in at most half as many
# threads (membervault/app.py): with more, every connection could be held by a thread
# waiting for a second one.
POOL_SIZE = 8
POOL_OVERFLOW = 8
MAX_CONNECTIONS = POOL_SIZE + POOL_OVERFLOW
# Server connections are replaced after this long, before a server, proxy or firewall
# drops them for being old or idle.
RECYCLE_SECONDS = 300
# libpq's TCP keepalives: a peer that vanished without closing is found within about a
# minute (the socket then reports an error, which the checkout check below sees).
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3}


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    options: dict[str, Any] = {"hide_parameters": True,  # never echo bound values in errors
                               "json_serializer": json_dumps}
    sqlite = parsed.get_backend_name() == "sqlite"
    in_memory = sqlite and parsed.database in {None, "", ":memory:"}
    if not in_memory:
        options.update(pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    if sqlite:
        if not in_memory:
            # The connection given back last is taken first: it wrote the last access-log
            # entry (audit.access_log), so its page cache is still valid. Any other
            # connection finds the WAL changed and drops its whole cache on its next read.
            options["pool_use_lifo"] = True
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
            ensure_private(str(parsed.database))  # SQLite gives its -wal and -shm this mode
        options["connect_args"] = {"check_same_thread": False}
    else:
        # No pool_pre_ping: it costs a round trip on every checkout, i.e. every request.
        options["pool_recycle"] = RECYCLE_SECONDS
        options["connect_args"] = dict(KEEPALIVES)
    options.update(kwargs)
    engine = create_engine(url, **options)
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine, "checkout", _discard_if_closed_by_server)
    return engine


def _discard_if_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Replaces a pooled connection the server has closed (restart, idle timeout,
    ``pg_terminate_backend``) without a round trip: an idle connection is sent nothing
    unasked (this service does not LISTEN), so one whose socket has something to read
    holds the server's goodbye, or an error. Raising ``DisconnectionError`` makes the
    pool connect afresh for this checkout."""
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    readable, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
    if readable:
        raise DisconnectionError("the server closed the connection")


SQLITE_BUSY_TIMEOUT = 5.0  # seconds a statement waits for SQLite's write lock


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
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


_CHANGED = "membervault.changed"
_READER = "membervault.reader"


def read_rows(session: Session, statement: Executable,
              params: dict[str, Any] | None = None) -> list[Row[Any]]:
    """The rows of a statement that only reads.

    Inside the session's transaction (the use case has begun one: it wrote, or read
    through the ORM) the statement runs there and sees what the transaction did.
    Otherwise it runs outside any transaction, on a connection taken from the pool for
    this statement alone: on PostgreSQL in autocommit, so a single-member read is one
    round trip instead of three (BEGIN, the SELECT, ROLLBACK). On SQLite a SELECT never
    opens a transaction anyway; giving the connection back at once lets the access-log
    entry that follows be written on it (``audit.access_log``).
    """
    reader = session.info.get(_READER)
    if reader is None or session.in_transaction():
        return list(session.connection().execute(statement, params))
    with reader.connect() as connection:
        return list(connection.execute(statement, params))


def insert_rows(session: Session, entity: type[Base],
                rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` of one entity in one executemany on the session's connection, the session
    flushed first (as ``Session.execute`` would: nothing pending is written after them).
    Not ``Session.execute``'s ORM bulk insert, whose per-row bookkeeping cost a retention
    sweep of a thousand erasures a batch ~15% (docs/performance.md, B9)."""
    session.flush()
    session.connection().execute(insert(entity), rows)


def changed(session: Session, topic: str, key: str | None = None) -> None:
    """Note that something a process may hold in memory (a client's registration, the
    signing keys) changes in this transaction: once it commits, the process's caches for
    ``topic`` forget ``key`` (see :meth:`Database.on_change`). Other processes learn of it
    when their cached copy expires."""
    session.info.setdefault(_CHANGED, []).append((topic, key))


class Database:
    """The engine and its session factory, built once per process by the app factory."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        # Whether a connection taken from the pool is a connection of its own. Not so for
        # an in-memory SQLite: one connection per thread, which another unit of work of the
        # thread may be using; there reads stay in the session and the access log keeps
        # a connection of its own.
        self.pooled = isinstance(engine.pool, QueuePool)
        # Where statements outside a transaction run (read_rows): SQLite's driver opens no
        # transaction for a SELECT, and switching it to autocommit costs two statements.
        reading = (engine if self.sqlite
                   else engine.execution_options(isolation_level="AUTOCOMMIT"))
        self.sessions = sessionmaker(engine, expire_on_commit=False,
                                     info={_READER: reading} if self.pooled else {})
        self._forget: defaultdict[str, list[Callable[[str | None], None]]] = defaultdict(list)
        event.listen(self.sessions, "after_commit", self._committed)
        event.listen(self.sessions, "after_rollback", self._rolled_back)

    def on_change(self, topic: str, forget: Callable[[str | None], None]) -> None:
        """Call ``forget(key)`` after each commit that :func:`changed` ``topic``."""
        self._forget[topic].append(forget)

    def _committed(self, session: Session) -> None:
        for topic, key in session.info.pop(_CHANGED, ()):
            for forget in self._forget.get(topic, ()):
                forget(key)

    def _rolled_back(self, session: Session) -> None:
        session.info.pop(_CHANGED, None)

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
