"""Holding a lock another connection's write needs, and seeing a write reach it: for the
tests that prove a request waiting for the database holds up no other request."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx
import psycopg
from sqlalchemy import Engine, event

from tests.conftest import BACKEND

WRITE = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+\w+\s+SET)\b", re.IGNORECASE)


class LockHolder:
    """Another process holding the lock a write needs: SQLite's database-wide write lock
    (BEGIN IMMEDIATE), or on PostgreSQL ``table``'s lock."""

    def __init__(self, database_url: str, table: str = "consent_records"):
        if BACKEND == "sqlite":
            self.connection: Any = sqlite3.connect(database_url.removeprefix("sqlite:///"),
                                                   isolation_level=None,
                                                   check_same_thread=False)
            self.connection.execute("BEGIN IMMEDIATE")
        else:
            self.connection = psycopg.connect(database_url.replace("+psycopg", ""))
            self.connection.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        self.held = True
        # Should the event loop itself be stuck waiting, the lock goes after 10 s anyway,
        # and the test fails instead of hanging.
        self.deadline = threading.Timer(10, self.release)
        self.deadline.start()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.connection.rollback()

    def close(self) -> None:
        self.deadline.cancel()
        self.release()
        self.connection.close()


@contextmanager
def writes_seen(engine: Engine) -> Iterator[threading.Event]:
    """An event set once the engine sends an INSERT or UPDATE (a write reached the lock)."""
    writing = threading.Event()

    def note_write(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if WRITE.search(statement):  # also an INSERT in a WITH (the access log's entry)
            writing.set()

    event.listen(engine, "before_cursor_execute", note_write)
    try:
        yield writing
    finally:
        event.remove(engine, "before_cursor_execute", note_write)


Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def answered_while_waiting(app: Any, engine: Engine, holder: LockHolder, waiting: Request,
                           meanwhile: Request, *, cookies: dict[str, str] | None = None
                           ) -> tuple[httpx.Response, httpx.Response]:
    """Sends ``waiting``, a request whose write needs the lock ``holder`` holds; once the
    write is at the lock, ``meanwhile`` must be answered while ``waiting`` still waits
    (it holds a worker thread, not the event loop). Then the lock goes and ``waiting``
    finishes. Returns both answers; the holder is closed."""
    answers: dict[str, httpx.Response] = {}

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1:8000", cookies=cookies,
                                     timeout=30) as client:

            async def send_waiting() -> None:
                answers["waiting"] = await waiting(client)

            async with anyio.create_task_group() as requests:
                requests.start_soon(send_waiting)
                with anyio.fail_after(10):
                    assert await anyio.to_thread.run_sync(writing.wait, 10)  # at the lock
                    answers["meanwhile"] = await meanwhile(client)
                assert "waiting" not in answers  # still waiting for the lock meanwhile
                holder.release()

    try:
        with writes_seen(engine) as writing:
            anyio.run(scenario)
    finally:
        holder.close()
    return answers["waiting"], answers["meanwhile"]
