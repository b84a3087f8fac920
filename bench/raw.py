"""Plain DB-API access for the floors: hand-written SQL on the driver's own connection
(sqlite3 or psycopg), with values stored exactly as SQLAlchemy stores them, so the service
can read what a floor wrote (and the other way round)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from audit.chain import GENESIS, PACKED, Read, entry_hash, instant, pack

LOG_RETRY_BUDGET = 5.0  # seconds, as audit.access_log.RETRY_BUDGET


INSERT_LOG = ("INSERT INTO access_log (sequence, at, request_id, principal, purpose, format, "
              "members, reads, previous_hash, entry_hash) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
              "ON CONFLICT (sequence) DO NOTHING RETURNING sequence")


class LogUnavailable(Exception):
    """The floor could not write its access-log entry within the retry budget."""


class Raw:
    """One DB-API connection. ``autocommit``: every statement commits by itself (what the
    service's access-log writer does; the single-request floors read in autocommit too,
    so a read costs one round trip, not BEGIN + SELECT + ROLLBACK)."""

    def __init__(self, kind: str, engine: sa.Engine, *, autocommit: bool = False):
        self.kind = kind
        self.connection = engine.raw_connection()
        self.sqlite = kind == "sqlite"
        self.autocommit = autocommit
        self._errors: Any = engine.dialect.dbapi  # sqlite3 or psycopg: the DB-API errors
        self._tail: tuple[int, bytes] | None = None  # the chain's tail, as last written
        self._json: Any = None
        if not self.sqlite:
            from psycopg.types.json import Json

            self._json = Json
        driver = self.connection.driver_connection
        if autocommit:
            self.connection.rollback()
            self._restore = driver.isolation_level if self.sqlite else driver.autocommit
            if self.sqlite:
                driver.isolation_level = None
            else:
                driver.autocommit = True

    def close(self) -> None:
        if self.autocommit:  # the connection goes back to the engine's pool as it came
            driver = self.connection.driver_connection
            if self.sqlite:
                driver.isolation_level = self._restore
            else:
                driver.autocommit = self._restore
        self.connection.close()

    # -- values as SQLAlchemy stores them -------------------------------------------------
    def uuid(self, value: uuid.UUID) -> Any:
        return value.hex if self.sqlite else value

    def to_uuid(self, value: Any) -> uuid.UUID:
        return uuid.UUID(hex=value) if self.sqlite else value

    def ts(self, value: dt.datetime) -> Any:
        if self.sqlite:
            return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    def json(self, value: Any) -> Any:
        return orjson.dumps(value).decode() if self.sqlite else self._json(value)

    # -- statements ---------------------------------------------------------------------
    def sql(self, text: str) -> str:
        """Write statements with ``?``; psycopg gets ``%s``."""
        return text if self.sqlite else text.replace("?", "%s")

    def marks(self, n: int) -> str:
        return ",".join("?" * n)

    def cursor(self) -> Any:
        return self.connection.cursor()

    def fetchall(self, text: str, params: Sequence[Any] = ()) -> list[Any]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(self.sql(text), tuple(params))
            return cursor.fetchall()
        finally:
            cursor.close()

    def executemany(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        cursor = self.connection.cursor()
        try:
            cursor.executemany(self.sql(text), rows)
        finally:
            cursor.close()

    def execute(self, text: str, params: Sequence[Any] = ()) -> int:
        cursor = self.connection.cursor()
        try:
            cursor.execute(self.sql(text), tuple(params))
            return int(cursor.rowcount or 0)
        finally:
            cursor.close()

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()

    # -- the access log, one hash-chained entry per answer like audit.access_log ----------
    def append_log(self, entries: Sequence[tuple[uuid.UUID, list[str], dict[str, str]]], *,
                   principal: str, purpose: str, request_id: str,
                   now: dt.datetime) -> int:
        """One entry naming the members (an answer that named nobody is an entry too, as
        in the service: a stranger costs what a member costs); returns its sequence.

        Like ``audit.access_log.AccessLog``: the chain's tail is remembered from the last
        write, so a write is one INSERT (committed at once); when another writer (the
        service, or another worker process) took that position, the INSERT does nothing
        (``ON CONFLICT DO NOTHING``) and the tail that took it is learnt (on PostgreSQL
        from the same statement, on SQLite by reading it), and the insert is retried at
        once. Lock waits are retried too (backing off), for at most
        :data:`LOG_RETRY_BUDGET` seconds."""
        packed, members = pack(Read(m, returned, denied) for m, returned, denied in entries)
        deadline = time.monotonic() + LOG_RETRY_BUDGET
        attempt = 0
        while True:
            try:
                sequence = self._insert_log(packed, members, principal, purpose, request_id,
                                            now)
                if sequence is not None:
                    return sequence
                # The tail that took the position, learnt just now: retried at once, as
                # the service does (after a back-off the other writer has moved on, so
                # the tail would be stale again and again).
                at_once = True
            except self._errors.OperationalError as exc:
                if not self._contention(exc):
                    raise
                at_once = False
                self._tail = None
                if not self.autocommit:
                    self.rollback()
            attempt += 1
            if time.monotonic() >= deadline:
                raise LogUnavailable("contention")
            if not at_once:
                time.sleep(max(0.0, min(0.002 * attempt, 0.05, deadline - time.monotonic())))

    def _insert_log(self, packed: str, members: int, principal: str, purpose: str,
                    request_id: str, now: dt.datetime) -> int | None:
        """The entry's sequence, or ``None`` when its position was taken (the tail is then
        the one that took it)."""
        if self._tail is None:
            self._tail = self._read_tail()
        sequence, previous = self._tail[0] + 1, self._tail[1]
        digest = entry_hash(previous, sequence, instant(now), request_id, principal, purpose,
                            packed)
        values = (sequence, self.ts(now), request_id, principal, purpose, PACKED, members,
                  packed, previous, digest)
        taken_by: tuple[int, bytes] | None = None
        if self.sqlite:
            if not self.fetchall(INSERT_LOG, values):
                taken_by = self._read_tail()
        else:
            written, tail, tail_hash = self.fetchall(
                f"WITH written AS ({INSERT_LOG}) SELECT (SELECT count(*) FROM written), "
                "t.sequence, t.entry_hash FROM (SELECT 1) AS one LEFT JOIN (SELECT sequence, "
                "entry_hash FROM access_log ORDER BY sequence DESC LIMIT 1) AS t ON true",
                values)[0]
            if not written:
                taken_by = (tail, bytes(tail_hash)) if tail is not None else (0, GENESIS)
        if not self.autocommit:
            self.commit()
        if taken_by is not None:
            self._tail = taken_by
            return None
        self._tail = (sequence, digest)
        return sequence

    def _read_tail(self) -> tuple[int, bytes]:
        tail = self.fetchall("SELECT sequence, entry_hash FROM access_log "
                             "ORDER BY sequence DESC LIMIT 1")
        return (tail[0][0], bytes(tail[0][1])) if tail else (0, GENESIS)

    def _contention(self, exc: Exception) -> bool:
        """A lock wait that ran out (SQLite), a deadlock or serialization failure."""
        sqlstate = getattr(exc, "sqlstate", None)
        return sqlstate in {"40001", "40P01", "55P03"} or "locked" in str(exc).lower()
