"""The access log (audit.access_log): hash chain, tamper detection, fail-closed reads,
batched writes; officers audit it (filters, opaque cursors bound to who asked, the hash
chain check) and nobody else reaches officer fields. Audience cursors are bound likewise."""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select, update
from starlette.testclient import TestClient
from typer.testing import CliRunner

from audit import chain, heads, log_view, member_index, verification
from audit.access_log import AccessLog
from audit.chain import Read
from audit.models import AccessLogEntry, AccessLogMember, AuditEvent
from audit.verification import Verification
from tests.conftest import BACKEND, Api, client_token, create_principal, register
from tests.consent.support import AUDIENCE, MEMBER_DATA, grant, new_member
from tests.locks import LockHolder
from vaultkernel.settings import Settings

MEMBERSHIP_AUDIENCE = """query($first: Int!) { audience(purpose: "loyalty.membership", first: $first) {
  items { memberNumber email } nextCursor } }"""


def write(services: Any, count: int, request_id: str = "req-1", members: int = 1) -> None:
    """``count`` entries of ``members`` members each."""
    for _ in range(count):
        services.access_log.append(
            "client:test", "loyalty.membership",
            [Read(uuid.uuid4(), ["email"], {"phone": "CATEGORY_NOT_IN_PURPOSE"})
             for _ in range(members)], request_id)


def verify(services: Any, notary: Any = None) -> Verification:
    with services.db.unit_of_work() as uow:
        return verification.verify(uow.session, notary)


def entry(services: Any, sequence: int) -> Any:
    with services.db.engine.connect() as connection:
        return connection.execute(select(AccessLogEntry)
                                  .where(AccessLogEntry.sequence == sequence)).one()


def test_an_untouched_chain_verifies(services: Any) -> None:
    write(services, 3, members=4)
    write(services, 2, "req-2")
    assert verify(services) == Verification(ok=True, checked=5)


def test_one_answered_read_is_one_entry_with_its_members_packed(services: Any) -> None:
    members = [uuid.uuid4() for _ in range(5)]
    services.access_log.append("client:test", "marketing.email",
                               [Read(m, ["email"], {}) for m in members[:3]]
                               + [Read(m, [], {"email": "CONSENT_REQUIRED"})
                                  for m in members[3:]], "req-1")
    row = entry(services, 1)
    assert row.members == 5
    assert sorted(chain.unpack(row.reads), key=lambda r: r.member_id.hex) == sorted(
        [Read(m, ["email"], {}) for m in members[:3]]
        + [Read(m, [], {"email": "CONSENT_REQUIRED"}) for m in members[3:]],
        key=lambda r: r.member_id.hex)
    assert len(orjson.loads(row.reads)) == 2  # two groups: same fields, same denials


def test_a_member_named_twice_in_one_read_is_one_member_of_the_entry() -> None:
    member = uuid.uuid4()
    packed, count = chain.pack([Read(member, ["email"]), Read(member, ["email"]),
                                Read(member, ["phone"], {"email": "CONSENT_REQUIRED"})])
    assert count == 1
    assert list(chain.unpack(packed)) == [Read(member, ["email", "phone"], {})]


def test_a_page_packs_into_one_group_per_answer_whatever_the_order_of_fields() -> None:
    """Members given the same fields (in any order) share one group, in the order the
    page named them; each group's fields are in canonical order; naming some members a
    second time with the same fields changes nothing."""
    first, second, third = (uuid.UUID(int=n) for n in (3, 1, 2))
    page = [Read(first, ["given_name", "email"], {"phone": "CONSENT_REQUIRED"}),
            Read(second, ["email", "given_name"], {"phone": "CONSENT_REQUIRED"}),
            Read(third, ["email"], {"phone": "CONSENT_REQUIRED", "email": "RESTRICTED"})]
    packed, count = chain.pack(page)
    assert count == 3
    assert orjson.loads(packed) == [
        [["email", "given_name"], {"phone": "CONSENT_REQUIRED"}, [first.hex, second.hex]],
        [["email"], {"phone": "CONSENT_REQUIRED"}, [third.hex]]]
    assert chain.pack([*page, page[1], page[0]]) == (packed, count)


def test_an_answer_that_named_nobody_is_an_entry_too(services: Any) -> None:
    """A stranger's look-up costs the same write as a member's (no timing oracle)."""
    assert services.access_log.append("client:test", "loyalty.membership", [], "r") == 1
    assert entry(services, 1).members == 0
    assert verify(services) == Verification(ok=True, checked=1)


def test_an_edited_entry_is_detected(services: Any) -> None:
    write(services, 5, members=2)
    row = entry(services, 3)
    groups = orjson.loads(row.reads)
    groups[0][0] = ["email", "phone"]  # claim a field was returned that was not, or v.v.
    with services.db.engine.begin() as connection:
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.sequence == 3)
                           .values(reads=orjson.dumps(groups).decode()))
    result = verify(services)
    assert (result.ok, result.first_broken_sequence) == (False, 3)
    assert result.problem == "entry content was changed"


def test_a_member_removed_from_an_entry_is_detected(services: Any) -> None:
    write(services, 3, members=3)
    row = entry(services, 2)
    groups = orjson.loads(row.reads)
    groups[0][2] = groups[0][2][1:]
    with services.db.engine.begin() as connection:
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.sequence == 2)
                           .values(reads=orjson.dumps(groups).decode(), members=2))
    assert verify(services).first_broken_sequence == 2


def test_unparseable_reads_are_reported_not_raised(services: Any) -> None:
    write(services, 2)
    with services.db.engine.begin() as connection:
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.sequence == 2)
                           .values(reads="not json", format=chain.LEGACY))
    assert verify(services).problem == "entry content was changed"


def test_an_edited_entry_with_a_recomputed_hash_is_detected_at_the_next_link(
        services: Any) -> None:
    write(services, 5)
    row = entry(services, 3)
    forged = chain.entry_hash(row.previous_hash, row.sequence, chain.instant(row.at),
                              row.request_id, "client:someone-else", row.purpose, row.reads)
    with services.db.engine.begin() as connection:
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.sequence == 3)
                           .values(principal="client:someone-else", entry_hash=forged))
    result = verify(services)
    assert (result.ok, result.first_broken_sequence) == (False, 4)


def test_a_deleted_entry_is_detected(services: Any) -> None:
    write(services, 5)
    with services.db.engine.begin() as connection:
        connection.execute(sa.delete(AccessLogEntry).where(AccessLogEntry.sequence == 2))
    result = verify(services)
    assert (result.ok, result.first_broken_sequence) == (False, 2)
    assert "missing" in (result.problem or "")


def test_reordered_entries_are_detected(services: Any) -> None:
    write(services, 5)
    with services.db.engine.begin() as connection:
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.sequence == 2)
                           .values(sequence=-2))
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.sequence == 4)
                           .values(sequence=2))
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.sequence == -2)
                           .values(sequence=4))
    result = verify(services)
    assert (result.ok, result.first_broken_sequence) == (False, 2)


def test_a_deleted_first_entry_breaks_the_chain(services: Any) -> None:
    write(services, 4)
    with services.db.engine.begin() as connection:
        connection.execute(sa.delete(AccessLogEntry).where(AccessLogEntry.sequence == 1))
    assert verify(services).first_broken_sequence == 1


# -- the newest entries: signed heads ------------------------------------------------------


def sign_head(services: Any, at_minutes: int = 0) -> Any:
    services.clock.advance(dt.timedelta(minutes=at_minutes))
    with services.db.unit_of_work() as uow:
        return heads.sign_head(uow, services.notary, services.clock.now())


def test_removing_the_newest_entries_is_detected_by_the_signed_head(services: Any) -> None:
    write(services, 5)
    head = sign_head(services)
    assert head is not None and head.sequence == 5
    assert verify(services, services.notary) == Verification(ok=True, checked=5)
    with services.db.engine.begin() as connection:
        connection.execute(sa.delete(AccessLogEntry).where(AccessLogEntry.sequence >= 4))
    assert verify(services).ok  # the chain alone cannot tell
    result = verify(services, services.notary)
    assert not result.ok
    assert result.problem == ("entries removed from the end: the log ends at 3 but a signed "
                              "head covers 5")


def test_a_head_is_signed_once_the_log_moved_and_the_interval_passed(services: Any) -> None:
    assert sign_head(services) is None  # an empty log has no head
    write(services, 2)
    assert sign_head(services) is not None
    write(services, 1)
    assert sign_head(services) is None  # too soon
    assert sign_head(services, at_minutes=2).sequence == 3
    assert sign_head(services, at_minutes=2) is None  # nothing new


def test_a_forged_head_is_refused(services: Any) -> None:
    write(services, 3)
    sign_head(services)
    with services.db.engine.begin() as connection:
        event = connection.execute(select(AuditEvent).where(
            AuditEvent.action == heads.ACTION)).one()
        details = dict(event.details, sequence=2)  # move the head back, keep the signature
        connection.execute(update(AuditEvent).where(AuditEvent.id == event.id)
                           .values(details=details))
    assert verify(services, services.notary).problem == (
        "the latest signed head's signature does not verify")


def test_a_changed_entry_at_the_head_is_detected(services: Any) -> None:
    write(services, 3)
    sign_head(services)
    row = entry(services, 3)
    with services.db.engine.begin() as connection:
        connection.execute(sa.delete(AccessLogEntry).where(AccessLogEntry.sequence == 3))
    AccessLog(services.db).append("client:other", "loyalty.membership",  # a new process
                                  [Read(uuid.uuid4(), ["email"])], "req-x")  # re-fills 3
    assert entry(services, 3).entry_hash != row.entry_hash
    assert verify(services, services.notary).problem == (
        "the entry at the latest signed head was changed")


# -- the per-member index -------------------------------------------------------------------


def test_the_index_is_derived_off_the_request_path_and_checked(services: Any) -> None:
    write(services, 3, members=2)
    with services.db.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(AccessLogMember)) == 0
    assert member_index.catch_up(services.db) == 3
    assert member_index.catch_up(services.db) == 0
    with services.db.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(AccessLogMember)) == 6
    assert verify(services).ok
    with services.db.engine.begin() as connection:
        connection.execute(sa.delete(AccessLogMember).where(AccessLogMember.sequence == 2))
    result = verify(services)
    assert (result.ok, result.first_broken_sequence) == (False, 2)
    assert result.problem == "the per-member index does not match the entry"


def test_an_index_row_for_a_member_the_entry_does_not_name_is_detected(services: Any) -> None:
    write(services, 2)
    member_index.catch_up(services.db)
    with services.db.engine.begin() as connection:
        connection.execute(sa.insert(AccessLogMember), {"member_id": uuid.uuid4(),
                                                        "sequence": 1})
    assert verify(services).first_broken_sequence == 1


def test_a_members_entries_are_complete_before_the_index_caught_up(services: Any) -> None:
    member = uuid.uuid4()
    services.access_log.append("client:a", "loyalty.membership", [Read(member, ["email"])], "r1")
    member_index.catch_up(services.db)
    services.access_log.append("client:b", "marketing.email",
                               [Read(uuid.uuid4(), ["email"]), Read(member, [], {
                                   "email": "CONSENT_REQUIRED"})], "r2")
    write(services, 2)
    with services.db.unit_of_work() as uow:
        found = member_index.of_member(uow.session, member, first=10)
        assert [(a.sequence, a.principal, list(a.returned), a.denied) for a in found] == [
            (2, "client:b", [], {"email": "CONSENT_REQUIRED"}),
            (1, "client:a", ["email"], {})]
        assert member_index.count_of_member(uow.session, member) == (2, 2)


def test_catching_up_twice_at_once_indexes_each_entry_once(services: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    write(services, 40, members=3)
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: member_index.catch_up(services.db, batch=7), range(3)))
    member_index.catch_up(services.db)
    with services.db.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(AccessLogMember)) == 120
    assert verify(services).ok


# -- writers ------------------------------------------------------------------------------


def test_audit_verify_command_reports_the_first_broken_link(services: Any, settings: Any,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    from membervault.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MEMBERVAULT_KEK_FILE", settings.kek_file)
    write(services, 3)
    ok = CliRunner().invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "3 entries verified" in ok.output
    indexed = CliRunner().invoke(app, ["audit", "index"])
    assert indexed.exit_code == 0 and "indexed 3 access-log entries" in indexed.output
    with services.db.engine.begin() as connection:
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.sequence == 2)
                           .values(purpose="marketing.email"))
    broken = CliRunner().invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "sequence 2" in broken.output


def test_concurrent_writers_keep_one_chain(services: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: write(services, 3, f"req-{n}"), range(12)))
    assert verify(services) == Verification(ok=True, checked=36)


def test_writers_in_several_processes_keep_one_chain(services: Any) -> None:
    """Each process has its own writer and remembers its own tail; a stale tail meets
    the primary key and is read again."""
    first, second = AccessLog(services.db), AccessLog(services.db)
    for n in range(6):
        (first if n % 2 else second).append("client:test", "loyalty.membership",
                                            [Read(uuid.uuid4(), ["email"])], f"req-{n}")
    assert verify(services) == Verification(ok=True, checked=6)


def test_an_entry_is_committed_on_its_own_whatever_the_reads_transaction_does(
        services: Any) -> None:
    """The writer never writes through the reader's transaction: an entry written while a
    unit of work has read (and then rolls back) stays, and is visible at once."""
    with services.db.unit_of_work() as uow:
        uow.session.execute(select(func.count()).select_from(AccessLogEntry)).scalar()
        write(services, 1, "req-inside")
        with services.db.engine.connect() as elsewhere:  # before the reader ends
            assert elsewhere.scalar(select(func.count()).select_from(AccessLogEntry)) == 1
        uow.rollback()
    assert [e.request_id for e in entries_of(services)] == ["req-inside"]
    assert verify(services) == Verification(ok=True, checked=1)


@pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL's writer keeps a connection; "
                    "SQLite's writes on a pooled one (the next test)")
def test_the_writer_keeps_one_connection_and_closes_it_on_close(services: Any) -> None:
    """Its own connection, kept between entries and out of the pool (so a disposed or
    collected pool never leaves it open); closing the writer closes it."""
    pool = services.db.engine.pool
    write(services, 1)
    kept = services.access_log._where.connection
    driver = kept.connection.dbapi_connection
    write(services, 4)
    assert services.access_log._where.connection is kept
    assert kept.connection.dbapi_connection is driver
    assert pool.checkedout() == 0  # takes no slot the requests need
    services.access_log.close()
    assert kept.closed and services.access_log._where.connection is None
    write(services, 1)  # a closed writer opens a new connection when asked again
    assert verify(services) == Verification(ok=True, checked=6)


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's writer writes on a pooled "
                    "connection; PostgreSQL's keeps its own (the test before)")
def test_on_sqlite_the_entry_is_written_on_the_connection_the_read_gave_back(
        services: Any, marketing_api: Api, jane: dict[str, Any], jane_api: Api) -> None:
    """A member's read and its entry use one SQLite connection, so the entry's commit does
    not make the next read drop its page cache; the INSERT commits itself (no transaction
    holds the write lock after it); nothing stays checked out afterwards."""
    grant(jane_api, "marketing.email")
    used: list[tuple[str, int]] = []
    open_after_insert: list[bool] = []

    def note(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        used.append((statement, id(connection.connection.dbapi_connection)))

    def after(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO access_log"):
            open_after_insert.append(connection.connection.dbapi_connection.in_transaction)

    idle = [services.db.engine.connect() for _ in range(3)]  # several idle in the pool:
    for connection in idle:  # the order the pool hands them out in decides
        connection.close()
    sa.event.listen(services.db.engine, "before_cursor_execute", note)
    sa.event.listen(services.db.engine, "after_cursor_execute", after)
    try:
        for _ in range(3):
            answer = marketing_api.graphql(MEMBER_DATA, {"purpose": "marketing.email",
                                                         "number": jane["memberNumber"]})
            assert answer["data"]["memberData"]["email"] == jane["email"]
    finally:
        sa.event.remove(services.db.engine, "before_cursor_execute", note)
        sa.event.remove(services.db.engine, "after_cursor_execute", after)
    writes = [n for n, (statement, _) in enumerate(used)
              if statement.startswith("INSERT INTO access_log")]
    assert len(writes) == 3
    for n in writes:  # each entry on the connection of the member read just before it
        read = next(c for statement, c in reversed(used[:n]) if "FROM members" in statement)
        assert used[n][1] == read
    assert open_after_insert == [False, False, False]
    assert services.db.engine.pool.checkedout() == 0
    with services.db.engine.connect() as connection:  # given back as it was taken
        assert connection.connection.dbapi_connection.isolation_level == ""


def test_an_entry_the_database_refuses_fails_closed_and_leaves_nothing_open(
        services: Any) -> None:
    """The database refuses one entry once it began writing it (a trigger): the read fails
    closed at once, no transaction or write lock is left behind (another connection can
    write straight away), and the refused entry is never committed later."""
    import audit.access_log

    write(services, 1, "req-before")
    with services.db.engine.begin() as connection:
        if BACKEND == "sqlite":
            connection.execute(sa.text(
                "CREATE TRIGGER refuse BEFORE INSERT ON access_log "
                "WHEN NEW.request_id = 'req-refused' "
                "BEGIN INSERT INTO nowhere VALUES (1); END"))
        else:
            connection.execute(sa.text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'refused'; END $$"))
            connection.execute(sa.text(
                "CREATE TRIGGER refuse BEFORE INSERT ON access_log FOR EACH ROW "
                "WHEN (NEW.request_id = 'req-refused') EXECUTE FUNCTION refuse()"))
    try:
        started = time.monotonic()
        with pytest.raises(audit.access_log.AccessLogUnavailable):
            write(services, 1, "req-refused")
        assert time.monotonic() - started < audit.access_log.RETRY_BUDGET  # not retried
        if BACKEND == "sqlite":
            other = sa.create_engine(services.db.engine.url, connect_args={"timeout": 0.2})
            try:  # "database is locked" if the refused write still held the lock
                with other.begin() as connection:
                    connection.execute(sa.text("CREATE TABLE unlocked (x INTEGER)"))
                    connection.execute(sa.text("DROP TABLE unlocked"))
            finally:
                other.dispose()
    finally:
        with services.db.engine.begin() as connection:
            connection.execute(sa.text("DROP TRIGGER refuse" if BACKEND == "sqlite"
                                       else "DROP TRIGGER refuse ON access_log"))
            if BACKEND != "sqlite":
                connection.execute(sa.text("DROP FUNCTION refuse()"))
    write(services, 1, "req-after")
    assert [e.request_id for e in entries_of(services)] == ["req-before", "req-after"]
    assert verify(services) == Verification(ok=True, checked=2)


@pytest.mark.skipif(BACKEND != "postgresql", reason="only PostgreSQL's writer keeps a "
                    "connection a server can drop")
def test_a_dropped_connection_is_replaced_and_the_entry_still_written(services: Any) -> None:
    """A server restart or an idle timeout drops the writer's kept connection; the next
    entry is written on a new one instead of failing the read."""
    write(services, 1)
    with services.db.engine.connect() as admin:
        others = ("FROM pg_stat_activity WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid()")
        admin.execute(sa.text(f"SELECT pg_terminate_backend(pid) {others}"))
        admin.commit()
        deadline = time.monotonic() + 10
        while admin.execute(sa.text(f"SELECT count(*) {others}")).scalar():
            assert time.monotonic() < deadline, "the writer's backend did not end"
            time.sleep(0.05)
            admin.rollback()
    write(services, 1, "req-after")
    assert [e.request_id for e in entries_of(services)] == ["req-1", "req-after"]
    assert verify(services) == Verification(ok=True, checked=2)


def entries_of(services: Any) -> list[Any]:
    with services.db.engine.connect() as connection:
        return list(connection.execute(select(AccessLogEntry.request_id)
                                       .order_by(AccessLogEntry.sequence)))


def test_a_stale_tail_is_read_again_and_written_without_waiting(
        services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes' writers taking turns: each finds its remembered tail taken every
    time. That is no contention, so the entry is retried at once (no back-off sleep,
    which made every request of two server workers wait)."""
    import audit.access_log

    waits: list[float] = []
    monkeypatch.setattr(audit.access_log.time, "sleep", waits.append)
    first, second = AccessLog(services.db), AccessLog(services.db)
    for n in range(6):
        (first if n % 2 else second).append("client:test", "loyalty.membership",
                                            [Read(uuid.uuid4(), ["email"])], f"req-{n}")
    first.close()
    second.close()
    assert waits == []
    assert verify(services) == Verification(ok=True, checked=6)


def test_a_writer_that_keeps_meeting_newer_entries_retries_at_once(
        services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process writes between each refusal and its retry: every retry goes at
    once with the tail just learnt, never backing off (after a back-off that tail would
    be stale again, and a busy second process could starve this one past its budget)."""
    import audit.access_log

    waits: list[float] = []
    monkeypatch.setattr(audit.access_log.time, "sleep", waits.append)
    mine, other = AccessLog(services.db), AccessLog(services.db)
    write = mine._write
    taken: list[int] = []

    def another_entry_meanwhile(*args: Any, **kwargs: Any) -> Any:
        sequence = write(*args, **kwargs)
        if sequence is None and len(taken) < 3:
            taken.append(other.append("client:other", "loyalty.membership",
                                      [Read(uuid.uuid4(), ["email"])], "req-other"))
        return sequence

    try:
        mine.append("client:test", "loyalty.membership", [Read(uuid.uuid4(), ["email"])],
                    "req-1")
        other.append("client:other", "loyalty.membership", [Read(uuid.uuid4(), ["email"])],
                     "req-other")
        monkeypatch.setattr(mine, "_write", another_entry_meanwhile)
        assert mine.append("client:test", "loyalty.membership",
                           [Read(uuid.uuid4(), ["email"])], "req-2") == 6
    finally:
        mine.close()
        other.close()
    assert taken == [3, 4, 5]
    assert waits == []
    assert verify(services) == Verification(ok=True, checked=6)


def test_a_read_fails_closed_when_the_log_cannot_be_written(services: Any, loyalty_api: Api,
                                                            jane: dict[str, Any]) -> None:
    with services.db.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE access_log RENAME TO access_log_away"))
    try:
        result = loyalty_api.graphql(MEMBERSHIP_AUDIENCE, {"first": 10})
    finally:
        with services.db.engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE access_log_away RENAME TO access_log"))
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "ACCESS_LOG_UNAVAILABLE"
    assert jane["email"] not in str(result)


def test_writers_kept_waiting_by_a_lock_fail_closed_within_the_budget(
        services: Any, settings: Any) -> None:
    """Another process holds the lock the entry needs: every wait (for this process's
    other writers, for the database's lock) counts against one budget, so each of four
    concurrent reads fails closed after it, not one after another."""
    from concurrent.futures import ThreadPoolExecutor

    from audit.access_log import AccessLogUnavailable

    budget = 1.0
    log = AccessLog(services.db, retry_budget=budget)

    def kept_waiting(n: int) -> float:
        started = time.monotonic()
        with pytest.raises(AccessLogUnavailable):
            log.append("client:test", "loyalty.membership", [Read(uuid.uuid4(), ["email"])],
                       f"req-{n}")
        return time.monotonic() - started

    holder = LockHolder(settings.database_url, table="access_log")
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            waited = list(pool.map(kept_waiting, range(4)))
    finally:
        holder.close()
    assert max(waited) < budget + 1.0, waited
    log.append("client:test", "loyalty.membership", [Read(uuid.uuid4(), ["email"])],
               "req-after")
    log.close()
    assert [e.request_id for e in entries_of(services)] == ["req-after"]
    assert verify(services) == Verification(ok=True, checked=1)


def test_a_writer_stuck_in_this_process_holds_up_the_others_no_longer_than_the_budget(
        services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """One thread holds the process's writer (stuck outside any database wait): the
    others give up within their budget instead of queueing behind it."""
    import threading

    from audit.access_log import AccessLogUnavailable

    log = AccessLog(services.db, retry_budget=0.5)
    stuck, release = threading.Event(), threading.Event()
    write = log._write

    def stuck_once(*args: Any, **kwargs: Any) -> Any:
        if not stuck.is_set():
            stuck.set()
            release.wait(10)
        return write(*args, **kwargs)

    monkeypatch.setattr(log, "_write", stuck_once)
    first = threading.Thread(target=log.append, args=(
        "client:test", "loyalty.membership", [Read(uuid.uuid4(), ["email"])], "req-stuck"))
    first.start()
    try:
        assert stuck.wait(5)
        started = time.monotonic()
        with pytest.raises(AccessLogUnavailable):
            log.append("client:test", "loyalty.membership", [Read(uuid.uuid4(), ["email"])],
                       "req-behind")
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        first.join()
        log.close()
    assert [e.request_id for e in entries_of(services)] == ["req-stuck"]


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's writer borrows pooled "
                    "connections; PostgreSQL's keeps one of its own")
def test_a_connection_the_writer_borrowed_goes_back_as_it_came(
        services: Any, settings: Any) -> None:
    """A retry shortens the connection's busy timeout to what the budget has left, and
    the entry runs in the driver's autocommit: both are undone before the pool has it
    back, even when the write failed."""
    from audit.access_log import AccessLogUnavailable

    log = AccessLog(services.db, retry_budget=1.0)
    holder = LockHolder(settings.database_url, table="access_log")
    try:
        with pytest.raises(AccessLogUnavailable):
            log.append("client:test", "loyalty.membership", [Read(uuid.uuid4(), ["email"])],
                       "req-1")
    finally:
        holder.close()
        log.close()
    connections = [services.db.engine.connect() for _ in range(4)]
    try:
        for connection in connections:
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            assert connection.connection.dbapi_connection.isolation_level == ""
    finally:
        for connection in connections:
            connection.close()


def test_a_read_kept_waiting_past_the_budget_answers_no_value(
        services: Any, settings: Any, loyalty_api: Api, jane: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    log = AccessLog(services.db, retry_budget=1.0)
    monkeypatch.setattr(services, "access_log", log)
    holder = LockHolder(settings.database_url, table="access_log")
    try:
        started = time.monotonic()
        result = loyalty_api.graphql(MEMBERSHIP_AUDIENCE, {"first": 10})
        waited = time.monotonic() - started
    finally:
        holder.close()
        log.close()
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "ACCESS_LOG_UNAVAILABLE"
    assert jane["email"] not in str(result)
    assert waited < 3.0


def test_a_page_of_members_costs_a_constant_number_of_statements(
        services: Any, loyalty_api: Api) -> None:
    for n in range(3):
        assert register(loyalty_api, email=f"p{n}@example.org", phone=f"0740012360{n}")[
            "errors"] == []
    counts = []
    for size in (1, 3):
        statements: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)  # noqa: B023

        sa.event.listen(services.db.engine, "before_cursor_execute", count)
        try:
            page = loyalty_api.graphql(MEMBERSHIP_AUDIENCE, {"first": size})["data"]["audience"]
        finally:
            sa.event.remove(services.db.engine, "before_cursor_execute", count)
        assert len(page["items"]) == size
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


# -- officers audit the log --------------------------------------------------------------


LOG = """query($filter: AccessLogFilter, $first: Int!, $after: String) {
  accessLog(filter: $filter, first: $first, after: $after) {
    items { sequence at principal purpose memberId fieldsReturned fieldsDenied { field reason } }
    nextCursor } }"""
MY_LOG = """query($first: Int!) { myAccessLog(first: $first) { items { sequence } nextCursor } }"""
VERIFY = "{ verifyAccessLog { ok checked firstBrokenSequence problem } }"


def officer(http: TestClient, services: Any, name: str) -> Api:
    return Api(http, client_token(http, name, create_principal(services, name, "officer")))


@pytest.fixture
def officer_api(http: TestClient, services: Any) -> Api:
    return officer(http, services, "officer-ines")


@pytest.fixture
def people(loyalty_api: Api, marketing_api: Api, http: TestClient,
           settings: Settings) -> dict[str, tuple[Api, dict[str, Any]]]:
    """Three members registered (three log entries by the loyalty engine), two consenting
    to email marketing; the marketing tool then reads each of them once."""
    result = {name: new_member(loyalty_api, http, settings, name, n)
              for n, name in enumerate(["ann", "bob", "cy"])}
    for name in ("ann", "cy"):
        grant(result[name][0], "marketing.email")
        grant(result[name][0], "marketing.sms")
    for _, profile in result.values():
        marketing_api.graphql(MEMBER_DATA, {"purpose": "marketing.email",
                                            "number": profile["memberNumber"]})
    return result


def log(api: Api, first: int = 50, after: str | None = None,
        **flt: Any) -> dict[str, Any]:
    result = api.graphql(LOG, {"filter": flt or None, "first": first, "after": after})
    assert "errors" not in result, result
    page: dict[str, Any] = result["data"]["accessLog"]
    return page


def error_code(result: dict[str, Any]) -> str:
    assert result["data"] is None, result
    code: str = result["errors"][0]["extensions"]["code"]
    return code


def test_the_whole_log_newest_first(people: dict[str, Any], officer_api: Api,
                                    services: Any) -> None:
    items = log(officer_api)["items"]
    assert len(items) == 6
    assert [i["sequence"] for i in items] == [6, 5, 4, 3, 2, 1]
    assert [i["principal"] for i in items] == ["client:email-marketing"] * 3 + [
        "client:loyalty-engine"] * 3
    ann = people["ann"][1]
    newest_ann = next(i for i in items if i["memberId"] == ann["id"])
    assert newest_ann["fieldsReturned"] == ["email", "given_name"]
    assert newest_ann["fieldsDenied"] == [
        {"field": "birthdate", "reason": "CATEGORY_NOT_IN_PURPOSE"},
        {"field": "member_number", "reason": "CATEGORY_NOT_IN_PURPOSE"}]
    assert "ann@example.org" not in str(items)


def test_entries_that_named_nobody_do_not_end_a_page_early(services: Any) -> None:
    """Look-ups of unknown keys are entries too, naming nobody: a page of the whole log
    still reaches the reads before them."""
    write(services, 1, "req-read")
    write(services, 12, "req-stranger", members=0)
    with services.db.unit_of_work() as uow:
        items, after = log_view.page(uow.session, log_view.LogFilter(), 5, None)
    assert [item.request_id for item in items] == ["req-read"]
    assert after is None


def test_filters(people: dict[str, Any], officer_api: Api) -> None:
    everything = log(officer_api)["items"]
    by_principal = log(officer_api, principal="client:loyalty-engine")["items"]
    assert [i["sequence"] for i in by_principal] == [3, 2, 1]
    by_purpose = log(officer_api, purpose="marketing.email")["items"]
    assert [i["sequence"] for i in by_purpose] == [6, 5, 4]
    bob = people["bob"][1]["id"]
    by_member = log(officer_api, memberId=bob)["items"]
    assert {i["memberId"] for i in by_member} == {bob} and len(by_member) == 2
    both = log(officer_api, memberId=bob, purpose="marketing.email")["items"]
    assert len(both) == 1 and both[0]["fieldsReturned"] == []
    assert log(officer_api, principal="client:nobody")["items"] == []

    # time window: the reads came after the registrations
    first_read_at = min(i["at"] for i in by_purpose)
    since = log(officer_api, since=first_read_at)["items"]
    assert [i["sequence"] for i in since] == [6, 5, 4]
    until = log(officer_api, until=first_read_at)["items"]
    assert [i["sequence"] for i in until] == [3, 2, 1]
    assert len(since) + len(until) == len(everything)
    window = log(officer_api, since=min(i["at"] for i in everything), until=first_read_at,
                 principal="client:loyalty-engine", memberId=bob)["items"]
    assert len(window) == 1 and window[0]["memberId"] == bob


def walk(api: Api, first: int, **flt: Any) -> list[int]:
    sequences: list[int] = []
    after = None
    for _ in range(50):
        page = log(api, first, after, **flt)
        assert len(page["items"]) <= first
        sequences += [i["sequence"] for i in page["items"]]
        after = page["nextCursor"]
        if after is None:
            return sequences
    raise AssertionError("pagination did not end")


def test_pagination_walks_every_entry_once(people: dict[str, Any], officer_api: Api) -> None:
    assert walk(officer_api, 1) == walk(officer_api, 4) == walk(officer_api, 200) == [
        6, 5, 4, 3, 2, 1]
    assert walk(officer_api, 2, purpose="marketing.email") == [6, 5, 4]


def test_a_cursor_is_opaque(people: dict[str, Any], officer_api: Api) -> None:
    cursor = log(officer_api, first=2)["nextCursor"]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert (4).to_bytes(8, "big") not in raw  # sealed, not merely encoded
    assert log(officer_api, first=2)["nextCursor"] != cursor  # fresh nonce each time


def test_a_cursor_works_only_for_the_officer_it_was_given_to(
        people: dict[str, Any], officer_api: Api, http: TestClient, services: Any) -> None:
    cursor = log(officer_api, first=2)["nextCursor"]
    assert [i["sequence"] for i in log(officer_api, first=2, after=cursor)["items"]] == [4, 3]
    other = officer(http, services, "officer-jon")
    result = other.graphql(LOG, {"first": 2, "after": cursor})
    assert error_code(result) == "INVALID_CURSOR"
    # nor does a member's own access-log cursor work for an officer, or the other way round
    member_cursor = people["ann"][0].graphql(MY_LOG, {"first": 1})["data"]["myAccessLog"][
        "nextCursor"]
    assert member_cursor is not None
    assert error_code(officer_api.graphql(LOG, {"first": 2, "after": member_cursor})) == (
        "INVALID_CURSOR")
    member_result = people["ann"][0].graphql(
        "query($a: String) { myAccessLog(first: 1, after: $a) { nextCursor } }", {"a": cursor})
    assert member_result["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


@pytest.mark.parametrize("tamper", [
    lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),
    lambda c: c[:10] + ("A" if c[10] != "A" else "B") + c[11:],
    lambda c: c[:-4],
    lambda c: base64.urlsafe_b64encode((7).to_bytes(8, "big")).decode(),
    lambda c: "not a cursor!",
])
def test_a_tampered_cursor_is_refused(people: dict[str, Any], officer_api: Api,
                                      tamper: Any) -> None:
    cursor = log(officer_api, first=2)["nextCursor"]
    result = officer_api.graphql(LOG, {"first": 2, "after": tamper(cursor)})
    assert error_code(result) == "INVALID_CURSOR"


@pytest.mark.parametrize("first", [0, -1, 201])
def test_the_log_page_size_is_bounded(people: dict[str, Any], officer_api: Api,
                                      first: int) -> None:
    assert error_code(officer_api.graphql(LOG, {"first": first})) == "INVALID_PAGE_SIZE"


@pytest.mark.parametrize("bound", ["since", "until"])
@pytest.mark.parametrize("value", ["2020-01-01T00:00:00", "2020-01-01"])
def test_a_time_without_an_offset_is_refused_not_an_internal_error(
        people: dict[str, Any], officer_api: Api, bound: str, value: str) -> None:
    result = officer_api.graphql(LOG, {"filter": {bound: value}, "first": 5})
    assert error_code(result) == "INVALID_DATETIME"
    assert len(log(officer_api, **{bound: "2020-01-01T00:00:00+02:00"})["items"]) == (
        6 if bound == "since" else 0)


def test_a_malformed_member_id_filter_is_refused(officer_api: Api) -> None:
    result = officer_api.graphql(LOG, {"filter": {"memberId": "ann"}, "first": 5})
    assert error_code(result) == "INVALID_MEMBER_ID"


def test_verify_access_log(people: dict[str, Any], officer_api: Api, admin_api: Api,
                           services: Any) -> None:
    with services.db.unit_of_work() as uow:
        total = uow.session.scalar(select(func.count()).select_from(AccessLogEntry))
    assert total == 6
    for api in (officer_api, admin_api):
        result = api.graphql(VERIFY)
        assert result["data"]["verifyAccessLog"] == {
            "ok": True, "checked": total, "firstBrokenSequence": None, "problem": None}


OFFICER_FIELDS = [
    ("{ accessLog { items { sequence } } }", "accessLog"),
    (VERIFY, "verifyAccessLog"),
    ('{ consentHistory(memberId: "00000000-0000-4000-8000-000000000000") { items { purpose } } }',
     "consentHistory"),
    ('{ consentReceipt(receiptId: "00000000-0000-4000-8000-000000000000") { jws } }',
     "consentReceipt"),
    ('mutation { setProcessingRestriction(memberId: "00000000-0000-4000-8000-000000000000", '
     'restricted: true, reason: "x") { errors { code } } }', "setProcessingRestriction"),
]


@pytest.mark.parametrize(("query", "field"), OFFICER_FIELDS)
def test_members_and_clients_cannot_reach_officer_fields(
        people: dict[str, Any], marketing_api: Api, http: TestClient, query: str,
        field: str) -> None:
    for caller in (people["ann"][0], marketing_api):
        result = caller.graphql(query)
        assert (result["data"] or {}).get(field) is None
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = Api(http).graphql(query)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.fixture
def two_purpose_api(http: TestClient, services: Any) -> Api:
    secret = create_principal(services, "campaigns", purposes=("marketing.email",
                                                               "marketing.sms"))
    return Api(http, client_token(http, "campaigns", secret))


def audience(api: Api, purpose: str, first: int, after: str | None = None) -> dict[str, Any]:
    return api.graphql(AUDIENCE, {"purpose": purpose, "first": first, "after": after})


def test_audience_cursors_are_bound_to_the_client_and_the_purpose(
        people: dict[str, Any], marketing_api: Api, two_purpose_api: Api) -> None:
    page = audience(marketing_api, "marketing.email", 1)["data"]["audience"]
    cursor = page["nextCursor"]
    assert cursor is not None
    following = audience(marketing_api, "marketing.email", 1, cursor)["data"]["audience"]
    assert {page["items"][0]["email"], following["items"][0]["email"]} == {
        "ann@example.org", "cy@example.org"}

    # another client, allowed the same purpose
    assert error_code(audience(two_purpose_api, "marketing.email", 1, cursor)) == (
        "INVALID_CURSOR")
    # the same client, another purpose
    own = audience(two_purpose_api, "marketing.email", 1)["data"]["audience"]["nextCursor"]
    assert audience(two_purpose_api, "marketing.email", 1, own)["data"] is not None
    assert error_code(audience(two_purpose_api, "marketing.sms", 1, own)) == "INVALID_CURSOR"
    # a tampered one
    tampered = cursor[:-2] + ("xx" if cursor[-2:] != "xx" else "yy")
    assert error_code(audience(marketing_api, "marketing.email", 1, tampered)) == (
        "INVALID_CURSOR")


@pytest.mark.parametrize("first", [0, -5, 1001])
def test_audience_page_size_is_bounded(people: dict[str, Any], marketing_api: Api,
                                       first: int) -> None:
    assert error_code(audience(marketing_api, "marketing.email", first)) == "INVALID_PAGE_SIZE"


def test_audience_accepts_the_largest_page(people: dict[str, Any], marketing_api: Api) -> None:
    page = audience(marketing_api, "marketing.email", 1000)["data"]["audience"]
    assert sorted(i["email"] for i in page["items"]) == ["ann@example.org", "cy@example.org"]
    assert page["nextCursor"] is None
