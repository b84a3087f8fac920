"""Plain DB-API access for the floors: hand-written SQL on the driver's own connection
(sqlite3 or psycopg), with values stored exactly as SQLAlchemy stores them, so the service
can read what a floor wrote (and the other way round)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from audit.chain import GENESIS, PACKED, Read, entry_hash, instant, pack


class Raw:
    def __init__(self, kind: str, engine: sa.Engine):
        self.kind = kind
        self.connection = engine.raw_connection()
        self.sqlite = kind == "sqlite"
        self._json: Any = None
        if not self.sqlite:
            from psycopg.types.json import Json

            self._json = Json

    def close(self) -> None:
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
                   now: dt.datetime) -> None:
        """One transaction: read the chain's tail, pack the members, insert one entry."""
        packed, members = pack(Read(m, returned, denied) for m, returned, denied in entries)
        if not members:
            return
        tail = self.fetchall("SELECT sequence, entry_hash FROM access_log "
                             "ORDER BY sequence DESC LIMIT 1")
        sequence, previous = (tail[0][0] + 1, bytes(tail[0][1])) if tail else (1, GENESIS)
        digest = entry_hash(previous, sequence, instant(now), request_id, principal, purpose,
                            packed)
        self.execute(
            "INSERT INTO access_log (sequence, at, request_id, principal, purpose, format, "
            "members, reads, previous_hash, entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sequence, self.ts(now), request_id, principal, purpose, PACKED, members, packed,
             previous, digest))
        self.commit()
