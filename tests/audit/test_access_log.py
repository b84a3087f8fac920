"""The access log: hash chain, tamper detection, fail-closed reads, batched writes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update
from typer.testing import CliRunner

from audit import access_log
from audit.access_log import Access
from audit.models import AccessLogEntry
from tests.conftest import Api, register

AUDIENCE = """query($first: Int!) { audience(purpose: "loyalty.membership", first: $first) {
  items { memberNumber email } nextCursor } }"""


def write(services: Any, count: int, request_id: str = "req-1") -> None:
    accesses = [Access(principal="client:test", purpose="loyalty.membership",
                       member_id=uuid.uuid4(), fields_returned=["email"],
                       fields_denied={"phone": "CATEGORY_NOT_IN_PURPOSE"})
                for _ in range(count)]
    access_log.append(services.db, accesses, request_id)


def verify(services: Any) -> access_log.Verification:
    with services.db.unit_of_work() as uow:
        return access_log.verify(uow.session)


def test_an_untouched_chain_verifies(services: Any) -> None:
    write(services, 3)
    write(services, 2, "req-2")
    assert verify(services) == access_log.Verification(ok=True, checked=5)


def test_an_edited_entry_is_detected(services: Any) -> None:
    write(services, 5)
    with services.db.engine.begin() as connection:
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.sequence == 3)
                           .values(fields_returned=["email", "phone"]))
    result = verify(services)
    assert (result.ok, result.first_broken_sequence) == (False, 3)
    assert result.problem == "entry content was changed"


def test_an_edited_entry_with_a_recomputed_hash_is_detected_at_the_next_link(
        services: Any) -> None:
    write(services, 5)
    with services.db.engine.begin() as connection:
        row = connection.execute(select(AccessLogEntry).where(AccessLogEntry.sequence == 3)).one()
        forged = access_log.chain_hash(row.previous_hash, access_log.canonical(
            row.sequence, row.at, row.request_id, "client:someone-else", row.purpose,
            row.member_id, row.fields_returned, row.fields_denied))
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


def test_a_truncated_tail_shows_in_the_count_but_a_deleted_head_breaks(services: Any) -> None:
    write(services, 4)
    with services.db.engine.begin() as connection:
        connection.execute(sa.delete(AccessLogEntry).where(AccessLogEntry.sequence == 1))
    assert verify(services).first_broken_sequence == 1


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
    result = verify(services)
    assert result == access_log.Verification(ok=True, checked=36)


def test_a_read_fails_closed_when_the_log_cannot_be_written(services: Any, loyalty_api: Api,
                                                            jane: dict[str, Any]) -> None:
    with services.db.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE access_log RENAME TO access_log_away"))
    try:
        result = loyalty_api.graphql(AUDIENCE, {"first": 10})
    finally:
        with services.db.engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE access_log_away RENAME TO access_log"))
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "ACCESS_LOG_UNAVAILABLE"
    assert jane["email"] not in str(result)


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
            page = loyalty_api.graphql(AUDIENCE, {"first": size})["data"]["audience"]
        finally:
            sa.event.remove(services.db.engine, "before_cursor_execute", count)
        assert len(page["items"]) == size
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
