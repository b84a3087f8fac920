"""What a warm request costs in database round trips: a client's ``memberData`` does not
read the client's registration (held in memory for seconds, identity.registrations) and,
on PostgreSQL, sends its two statements and nothing else: no ping before using a pooled
connection, no BEGIN or ROLLBACK around the read, no COMMIT after the entry. On PostgreSQL the messages are read from libpq's own
trace of what went over the wire."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
from psycopg.pq import Trace
from sqlalchemy import Engine, event

from audit.access_log import AccessLog
from audit.chain import Read
from audit.verification import Verification, verify
from membervault.services import Services
from tests.conftest import BACKEND, Api
from tests.consent.support import change, new_member

MEMBER_DATA = """query($email: String!) {
  memberData(purpose: "marketing.email", email: $email) { email givenName } }"""


class Wire:
    """The messages libpq sends on every connection of an engine, from a fresh pool on."""

    def __init__(self, engine: Engine, directory: Path):
        self.directory = directory
        self.traces: dict[Any, IO[str]] = {}  # each connection's current trace file
        self.count = 0
        engine.dispose()
        event.listen(engine, "connect", self._trace)

    def _trace(self, dbapi_connection: Any, _record: Any = None) -> None:
        self.count += 1
        file = (self.directory / f"libpq-{self.count}.trace").open("w")
        self.traces[dbapi_connection] = file
        dbapi_connection.pgconn.trace(file.fileno())
        dbapi_connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)

    def _restart(self) -> list[Path]:
        """Ends every trace (libpq writes it out) and starts a new one on each connection
        still open; returns the ended traces' files."""
        ended, self.traces = self.traces, {}
        for connection, file in ended.items():
            if not connection.closed:
                connection.pgconn.untrace()
                self._trace(connection)
            file.close()
        return [Path(file.name) for file in ended.values()]

    @contextmanager
    def sent(self) -> Iterator[list[tuple[str, str]]]:
        """(message type, text) of each message sent to the server within the block."""
        with self.exchanged() as messages:
            sent: list[tuple[str, str]] = []
            yield sent
        sent += [(kind, text) for direction, kind, text in messages if direction == "F"]

    @contextmanager
    def exchanged(self) -> Iterator[list[tuple[str, str, str]]]:
        """(direction, type, text) of each message either way within the block."""
        self._restart()
        messages: list[tuple[str, str, str]] = []
        yield messages
        for path in self._restart():
            messages += messages_of(path.read_text())


def sent_by_client(trace: str) -> list[tuple[str, str]]:
    """(type, text) of the frontend messages in a libpq trace."""
    return [(kind, text) for direction, kind, text in messages_of(trace) if direction == "F"]


def messages_of(trace: str) -> list[tuple[str, str, str]]:
    """(direction, type, text) of each message in a libpq trace: a message starts a line
    with F (to the server) or B (from it); a statement's own line breaks continue it."""
    parsed: list[list[str]] = []
    for line in trace.splitlines():
        if line.startswith(("F\t", "B\t")):
            parsed.append(line.split("\t", 3))
        elif parsed:
            parsed[-1][-1] += " " + line
    return [(fields[0], fields[2], fields[3].strip() if len(fields) > 3 else "")
            for fields in parsed]


@pytest.fixture
def jane_registered(loyalty_api: Api, http: Any, settings: Any) -> None:
    """Jane, a member who consents to email marketing."""
    jane, _ = new_member(loyalty_api, http, settings, "jane", 1)
    assert change(jane, "marketing.email", True)["errors"] == []


def read(api: Api) -> None:
    result = api.graphql(MEMBER_DATA, {"email": "jane@example.org"})
    assert result["data"]["memberData"]["email"] == "jane@example.org", result


def test_a_warm_client_read_does_not_read_its_registration(
        jane_registered: None, marketing_api: Api, services: Services,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services.registrations, "ttl", dt.timedelta(hours=1))
    read(marketing_api)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", seen)
    try:
        read(marketing_api)
    finally:
        event.remove(services.db.engine, "before_cursor_execute", seen)
    assert any("FROM members" in s for s in statements)  # the read itself was watched
    assert not [s for s in statements if "FROM clients" in s]


@pytest.mark.skipif(BACKEND != "postgresql", reason="libpq's trace of the wire protocol")
def test_a_warm_client_read_sends_no_ping_and_nothing_but_its_statements(
        jane_registered: None, marketing_api: Api, services: Services, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services.registrations, "ttl", dt.timedelta(hours=1))
    services.access_log.close()  # its kept connection reopens, traced, at the next entry
    wire = Wire(services.db.engine, tmp_path)
    for _ in range(3):  # warm: connections pooled, token and registration in memory
        read(marketing_api)
    with wire.sent() as messages:
        read(marketing_api)
    simple_queries = {text for kind, text in messages if kind == "Query"}
    prepared = [text for kind, text in messages if kind == "Parse"]
    assert any("FROM members" in text for text in prepared)  # the read itself was traced
    assert not [text for text in prepared if "FROM clients" in text]
    # The read runs outside a transaction (vaultkernel.database.read_rows) and the entry
    # is autocommitted: no BEGIN, COMMIT or ROLLBACK, two round trips as the floor's.
    assert simple_queries == set(), simple_queries
    assert sum(1 for kind, _ in messages if kind in {"Sync", "Query"}) == 2, messages


@pytest.mark.skipif(BACKEND != "postgresql", reason="libpq's trace of the wire protocol")
def test_an_entry_that_meets_another_writers_costs_two_round_trips_and_no_error(
        services: Services, tmp_path: Path) -> None:
    """Two server processes' writers taking turns: each finds the position it remembered
    taken. The INSERT does nothing (no ERROR for the server's log) and returns the tail
    that took it, so the entry is written on the second round trip, not the third."""
    wire = Wire(services.db.engine, tmp_path)
    first, second = AccessLog(services.db), AccessLog(services.db)
    try:
        for writer in (first, second, first):  # both warm; first's tail is now stale
            writer.append("client:test", "marketing.email", [Read(uuid.uuid4(), ["email"])],
                          "req-warm")
        second.append("client:test", "marketing.email", [], "req-warm")
        with wire.exchanged() as messages:
            first.append("client:test", "marketing.email", [Read(uuid.uuid4(), ["email"])],
                         "req-met")
    finally:
        first.close()
        second.close()
    assert sum(1 for d, kind, _ in messages if d == "F" and kind in {"Sync", "Query"}) == 2
    assert not [m for m in messages if m[1] == "ErrorResponse"], messages
    with services.db.unit_of_work() as uow:
        assert verify(uow.session) == Verification(ok=True, checked=5)
