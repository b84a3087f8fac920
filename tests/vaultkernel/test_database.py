"""The unit of work (vaultkernel.database): leaving it rolls back whatever was not
committed, whatever the way out; committed work stays. On a real database file (and on
PostgreSQL under MEMBERVAULT_TEST_DATABASE=postgresql)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import event, func, select, text

from tests.conftest import BACKEND
from tests.vaultkernel.conftest import Note
from vaultkernel.database import Database, create_db_engine, normalise_url, read_rows


def notes(database: Database) -> list[str]:
    with database.unit_of_work() as uow:
        return list(uow.session.scalars(select(Note.text).order_by(Note.id)))


def test_leaving_without_a_commit_rolls_back(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.session.add(Note(text="only read, never committed"))
        uow.session.flush()
        assert uow.session.scalar(select(func.count()).select_from(Note)) == 1
    assert notes(database) == []


def test_an_error_rolls_back_and_is_not_swallowed(database: Database) -> None:
    with pytest.raises(RuntimeError, match="half way"), database.unit_of_work() as uow:
        uow.session.add(Note(text="half done"))
        uow.session.flush()
        raise RuntimeError("half way")
    assert notes(database) == []


def test_committed_work_stays_and_what_follows_the_commit_does_not(database: Database) -> None:
    with database.unit_of_work() as uow:
        note = Note(text="kept")
        uow.session.add(note)
        uow.commit()
        uow.session.add(Note(text="after the commit"))
        uow.session.flush()
    assert notes(database) == ["kept"]
    assert note.text == "kept"  # still readable after the unit of work closed


def test_an_explicit_rollback_discards_the_work_so_far(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.session.add(Note(text="discarded"))
        uow.session.flush()
        uow.rollback()
        uow.session.add(Note(text="kept"))
        uow.commit()
    assert notes(database) == ["kept"]


def test_each_unit_of_work_has_its_own_session(database: Database) -> None:
    with database.unit_of_work() as first, database.unit_of_work() as second:
        assert first.session is not second.session


def test_timestamps_come_back_in_utc_and_naive_ones_are_refused(database: Database) -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    with database.unit_of_work() as uow:
        uow.session.add(Note(id=1, text="t", at=dt.datetime(2026, 6, 1, 14, tzinfo=paris)))
        uow.commit()
    with database.unit_of_work() as uow:
        at = uow.session.scalars(select(Note.at)).one()
    assert at == dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC) and at.tzinfo is dt.UTC
    with pytest.raises(Exception, match="naive datetime"), database.unit_of_work() as uow:
        uow.session.add(Note(id=2, text="t", at=dt.datetime(2026, 6, 1)))
        uow.commit()
    assert notes(database) == ["t"]


def test_ping_answers_while_the_database_is_reachable(database: Database) -> None:
    database.ping()


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite connection settings")
def test_sqlite_connections_enforce_foreign_keys_and_overwrite_deleted_content(
        database: Database) -> None:
    with database.engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA secure_delete").scalar() == 1
        assert pragma("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite connection settings")
def test_every_sqlite_connection_gets_the_same_settings(database: Database) -> None:
    """Each connection the pool opens (several at once, as concurrent requests and the
    access log's own writer hold them) waits for the write lock, journals to the WAL
    without an fsync per commit, and overwrites deleted content."""
    held = [database.engine.connect() for _ in range(4)]
    try:
        for connection in held:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA busy_timeout").scalar() == 5000
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA secure_delete").scalar() == 1
        assert len({id(c.connection.dbapi_connection) for c in held}) == len(held)
    finally:
        for connection in held:
            connection.close()


def _in_transaction(dbapi_connection: object) -> bool:
    """Whether the driver's connection has a transaction open (psycopg or sqlite3)."""
    info = getattr(dbapi_connection, "info", None)
    if info is not None and hasattr(info, "transaction_status"):
        return int(info.transaction_status) != 0  # psycopg: 0 is IDLE
    return bool(dbapi_connection.in_transaction)  # type: ignore[attr-defined]


def test_a_read_outside_a_transaction_opens_none(database: Database) -> None:
    """A statement that only reads, in a unit of work that has not begun a transaction,
    runs on a connection of its own in no transaction (PostgreSQL: autocommit, one round
    trip instead of BEGIN, the SELECT and ROLLBACK) and leaves the session without one."""
    with database.unit_of_work() as uow:
        uow.session.add(Note(text="there"))
        uow.commit()
    seen: list[bool] = []

    def after(connection: object, *_: object) -> None:
        seen.append(_in_transaction(connection.connection.dbapi_connection))  # type: ignore[attr-defined]

    event.listen(database.engine, "after_cursor_execute", after)
    try:
        with database.unit_of_work() as uow:
            rows = read_rows(uow.session, select(Note.text))
            assert [r.text for r in rows] == ["there"]
            assert not uow.session.in_transaction()
    finally:
        event.remove(database.engine, "after_cursor_execute", after)
    assert seen == [False]


def test_a_read_inside_a_transaction_sees_what_it_wrote(database: Database) -> None:
    """Once the use case has begun (here: written, not committed), a read runs in its
    transaction, on its connection, and sees the uncommitted change."""
    with database.unit_of_work() as uow:
        uow.session.add(Note(text="not yet committed"))
        uow.session.flush()
        assert [r.text for r in read_rows(uow.session, select(Note.text))] == [
            "not yet committed"]
        assert uow.session.in_transaction()
    assert notes(database) == []


def test_postgresql_urls_use_psycopg_3() -> None:
    assert normalise_url("postgresql://u:p@db/mv") == "postgresql+psycopg://u:p@db/mv"
    assert normalise_url("postgres://db/mv") == "postgresql+psycopg://db/mv"
    assert normalise_url("sqlite:///var/mv.db") == "sqlite:///var/mv.db"


@pytest.mark.skipif(BACKEND != "postgresql", reason="a server that closes connections")
def test_a_pooled_connection_the_server_closed_is_replaced_without_an_error(
        database: Database) -> None:
    backend_pid = "SELECT pg_backend_pid()"
    with database.unit_of_work() as uow:
        closed = uow.session.scalar(text(backend_pid))
    admin = create_db_engine(str(database.engine.url.render_as_string(hide_password=False)),
                             isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": closed})
            deadline = time.monotonic() + 10
            while connection.execute(text("SELECT count(*) FROM pg_stat_activity "
                                          "WHERE pid = :pid"), {"pid": closed}).scalar():
                assert time.monotonic() < deadline, "the backend did not end"
                time.sleep(0.05)
    finally:
        admin.dispose()
    with database.unit_of_work() as uow:  # the pool hands out the closed one first
        assert uow.session.scalar(text(backend_pid)) not in {None, closed}
