"""Writing the access log (design rule 2): one entry per answered read, committed before
the answer leaves.

The functions that hand decrypted member values to a caller take a :class:`ReaderLog`
(the log bound to who is reading, in which request) and record before they return; no
resolver or handler writes the log itself.

A write is one statement in its own transaction, never the request's unit of work's (the
entry is committed whether or not the read's transaction is). Where it is written:

- PostgreSQL: on a connection the writer keeps for itself, in autocommit: one round trip.
  Checking one out of the pool per entry cost more than the INSERT (docs/performance.md,
  "The single-member path").
- SQLite (a file): on a connection from the pool, the one given back last. That is the
  connection the read before the entry used (``vaultkernel.database.read_rows`` gives it
  back at once; the pool is LIFO), so read and entry share one page cache: a commit on
  another connection makes SQLite drop a connection's whole cache on its next read.

The writer remembers the chain's tail, so it does not read it first. Another process may
have written since; then its row holds the position (``sequence`` is the primary key) and
the INSERT does nothing (``ON CONFLICT DO NOTHING``: a refused INSERT would be an ERROR in
PostgreSQL's server log for nearly every request of two server processes). On PostgreSQL
the same statement returns the tail that took the position, so an entry that met another
process's costs two round trips, not three; on SQLite the tail is read after. The entry
is then chained onto that tail and written again. A kept connection the server dropped
is replaced and the write retried.

The retry budget is bounded: after :data:`RETRY_BUDGET` seconds the read fails closed with
``ACCESS_LOG_UNAVAILABLE``. Every wait is inside it, to within about half a second: for
the process's one writer (the lock below), and for the database's locks (SQLite's busy
timeout, PostgreSQL's ``lock_timeout`` on the kept connection: each shortened to what is
left of the budget when that is more than half a second less).
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from audit.chain import GENESIS, Read, entry_row, pack
from audit.models import AccessLogEntry
from vaultkernel.clock import Clock, SystemClock
from vaultkernel.database import SQLITE_BUSY_TIMEOUT, Database
from vaultkernel.errors import DomainError
from vaultkernel.telemetry import measured

# The purpose of an officer's view of one member's records (consent history, a receipt,
# legal holds) in the console: the member's "who read my data" shows it.
COMPLIANCE = "compliance"
RETRY_BUDGET = 5.0  # seconds

_TAIL = (select(AccessLogEntry.sequence, AccessLogEntry.entry_hash)
         .order_by(AccessLogEntry.sequence.desc()).limit(1))
_ROW: dict[str, Any] = {column.name: bindparam(column.name)
                        for column in AccessLogEntry.__table__.columns}


# The entry, unless another writer took its position: then SQLite returns no row, and
# PostgreSQL returns ``written`` 0 with the tail as it was before this statement (the one
# that took the position; NULLs for an empty log): one round trip either way.
_SQLITE_CLAIM = (sqlite.insert(AccessLogEntry).values(_ROW)
                 .on_conflict_do_nothing(index_elements=[AccessLogEntry.sequence])
                 .returning(AccessLogEntry.sequence))
_WRITTEN = (postgresql.insert(AccessLogEntry).values(_ROW)
            .on_conflict_do_nothing(index_elements=[AccessLogEntry.sequence])
            .returning(AccessLogEntry.sequence).cte("written"))
_COUNT = select(func.count().label("written")).select_from(_WRITTEN).subquery("count")
_BEFORE = _TAIL.subquery("tail")
_POSTGRESQL_CLAIM = (select(_COUNT.c.written, _BEFORE.c.sequence, _BEFORE.c.entry_hash)
                     .select_from(_COUNT.outerjoin(_BEFORE, true())))


def _claim_on_sqlite(connection: Connection, row: dict[str, Any]) -> tuple[int, bytes] | None:
    """Writes the entry and returns ``None``; or returns the tail that took its place."""
    if connection.execute(_SQLITE_CLAIM, row).first() is not None:
        return None
    return _tail_of(connection.execute(_TAIL).first())


def _claim_on_postgresql(connection: Connection,
                         row: dict[str, Any]) -> tuple[int, bytes] | None:
    """As on SQLite, in one round trip."""
    written, sequence, entry_hash = connection.execute(_POSTGRESQL_CLAIM, row).one()
    if written:
        return None
    return _tail_of(None if sequence is None else (sequence, entry_hash))


def _tail_of(row: Any) -> tuple[int, bytes]:
    return (row[0], row[1]) if row is not None else (0, GENESIS)


class AccessLogUnavailable(DomainError):
    """The log could not be written: the read it guards must fail closed. ``detail`` says
    why (an exception's name, or contention), for the server log only."""

    def __init__(self, detail: str):
        super().__init__("ACCESS_LOG_UNAVAILABLE",
                         "The access log cannot be written, so no data is returned")
        self.detail = detail


class _Kept:
    """The writer's own autocommitting connection, opened on first use."""

    def __init__(self, engine: Engine, budget: float):
        self.engine = engine
        self.connection: Connection | None = None
        self._budget = _ms(budget)
        self._lock_timeout: int | None = None  # PostgreSQL's, as set on the connection

    def get(self) -> Connection:
        if self.connection is None:
            connection = self.engine.connect()
            # Out of the pool: closing it closes the driver's connection, whatever became
            # of the pool meanwhile (disposed by Services.close, or garbage).
            connection.detach()
            self.connection = connection
        return self.connection

    @contextlib.contextmanager
    def writing(self, patience: float) -> Iterator[Connection]:
        connection = self.get()  # autocommit: each statement commits itself
        if connection.dialect.name == "postgresql":
            self._limit_lock_waits(connection, min(_ms(patience), self._budget))
        yield connection

    def _limit_lock_waits(self, connection: Connection, wanted: int) -> None:
        """``lock_timeout``: the whole budget; less on a retry, back to the budget after.
        Set only when it must change by more than half a second: it is a round trip."""
        current = self._lock_timeout
        if (current is None or wanted < current - 500
                or (current < self._budget - 500 and wanted > current + 500)):
            connection.exec_driver_sql(f"SET lock_timeout = {wanted}")
            self._lock_timeout = wanted

    def close(self) -> None:
        connection, self.connection = self.connection, None
        self._lock_timeout = None
        if connection is not None:
            with contextlib.suppress(Exception):  # a broken connection: nothing to keep
                connection.close()


class _Pooled:
    """SQLite: a connection from the pool per entry, the INSERT committing itself."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @contextlib.contextmanager
    def writing(self, patience: float) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            driver: Any = connection.connection.dbapi_connection
            # The driver's autocommit for this entry: the INSERT commits within SQLite's
            # own step, so the write lock is held only while it runs. In a transaction it
            # would stay held until the COMMIT, across Python code and GIL waits, while
            # another process's writer sleeps in SQLite's busy handler. Set on the driver:
            # SQLAlchemy's isolation-level option resets with a PRAGMA at every check-in.
            shorter = patience < SQLITE_BUSY_TIMEOUT - 0.5
            try:
                driver.isolation_level = None
                if shorter:  # wait for the write lock only as long as the budget has left
                    driver.execute(f"PRAGMA busy_timeout={_ms(patience)}")
                yield connection
            finally:
                try:  # the connection goes back to the pool as every pooled one is
                    if shorter:
                        driver.execute(f"PRAGMA busy_timeout={_ms(SQLITE_BUSY_TIMEOUT)}")
                finally:
                    driver.isolation_level = ""  # deferred transactions

    def close(self) -> None:
        pass  # nothing kept


class AccessLog:
    """The log's writer for one process: appends entries and remembers the chain's tail."""

    def __init__(self, db: Database, clock: Clock | None = None, *,
                 retry_budget: float = RETRY_BUDGET):
        self._where: _Kept | _Pooled
        if db.sqlite and db.pooled:
            self._where = _Pooled(db.engine)
        else:  # PostgreSQL; and an in-memory SQLite, whose pool is one connection per thread
            self._where = _Kept(db.engine.execution_options(isolation_level="AUTOCOMMIT"),
                                retry_budget)
        weakref.finalize(self, self._where.close)  # a writer dropped unclosed (tests)
        self._claim = _claim_on_sqlite if db.sqlite else _claim_on_postgresql
        self._clock = clock or SystemClock()
        self._budget = retry_budget
        self._tail: tuple[int, bytes] | None = None
        self._lock = threading.Lock()  # one writer per process: the chain is one line anyway

    def close(self) -> None:
        """Give the kept connection back (the process is stopping)."""
        with self._lock:
            self._where.close()

    def reader(self, principal: str, request_id: str) -> ReaderLog:
        return ReaderLog(self, principal, request_id)

    def append(self, principal: str, purpose: str, reads: Iterable[Read],
               request_id: str) -> int:
        """Write one entry and return its sequence. An answer that named nobody is an
        entry too: a stranger's look-up must cost what a member's does (no existence
        oracle by timing), and the question itself was asked. Raises
        :class:`AccessLogUnavailable`."""
        packed, count = pack(reads)
        with measured("access_log.write", {"membervault.access_log.members": count}) as span:
            sequence = self._append(principal, purpose, packed, count, request_id)
            span.set_attribute("membervault.access_log.sequence", sequence)
            return sequence

    def _append(self, principal: str, purpose: str, packed: str, count: int,
                request_id: str) -> int:
        deadline = time.monotonic() + self._budget
        # Waiting for this process's other writers is waiting too: within the budget.
        if not self._lock.acquire(timeout=self._budget):
            raise AccessLogUnavailable("contention")
        try:
            attempt = 0
            while True:
                try:
                    sequence = self._write(principal, purpose, packed, count, request_id,
                                           patience=deadline - time.monotonic())
                    if sequence is not None:
                        return sequence
                    # Another writer took the position (the tail is known again): no
                    # contention, so the retry goes at once; after a back-off the other
                    # writer would have moved on and the tail be stale again, every time.
                    # (On PostgreSQL a tail read in the statement's snapshot may still be
                    # one short, when the INSERT waited for the other writer's entry: the
                    # next try sees it.)
                    at_once = True
                except Exception as exc:  # noqa: BLE001  (any failure: fail closed)
                    self._tail = None
                    self._where.close()  # whatever state it is in, start the next try afresh
                    if not (_contention(exc) or _disconnected(exc)):
                        raise AccessLogUnavailable(type(exc).__name__) from None
                    at_once = attempt == 0 and _disconnected(exc)
                attempt += 1
                if time.monotonic() >= deadline:
                    raise AccessLogUnavailable("contention")
                if not at_once:
                    time.sleep(max(0.0, min(0.002 * attempt, 0.05, deadline - time.monotonic())))
        finally:
            self._lock.release()

    def _write(self, principal: str, purpose: str, packed: str, count: int,
               request_id: str, *, patience: float) -> int | None:
        """The entry's sequence; ``None`` when another writer had taken its position (the
        tail is then the one that took it). Waits at most ``patience`` seconds for a
        database lock."""
        with self._where.writing(patience) as connection:
            if self._tail is None:
                self._tail = _tail_of(connection.execute(_TAIL).first())
            sequence, previous = self._tail[0] + 1, self._tail[1]
            row = entry_row(previous, sequence, self._clock.now(), request_id, principal,
                            purpose, packed, count)
            taken_by = self._claim(connection, row)
        if taken_by is not None:
            self._tail = taken_by
            return None
        self._tail = (sequence, row["entry_hash"])
        return sequence


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _contention(exc: Exception) -> bool:
    """A lock wait that ran out, a deadlock or a serialization failure: worth retrying."""
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in {"40001", "40P01", "55P03"} or "locked" in str(exc.orig).lower()


def _disconnected(exc: Exception) -> bool:
    """The kept connection was dropped (a server restart, an idle timeout): a new one may
    well write."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class ReaderLog:
    """The log bound to one reader in one request: what a gated read records through."""

    def __init__(self, log: AccessLog, principal: str, request_id: str):
        self._log = log
        self.principal = principal
        self.request_id = request_id

    def record(self, purpose: str, reads: Iterable[Read]) -> None:
        """Commit the entry before the caller answers; raises
        :class:`AccessLogUnavailable` (no answer) when it cannot."""
        self._log.append(self.principal, purpose, reads, self.request_id)
