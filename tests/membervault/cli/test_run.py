"""``membervault demo`` (membervault/cli/run.py): demo members and principals, and a
rerun that fills gaps only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from identity.models import Client, Member
from membervault.demo import DEMO_EMAIL, STAFF
from membervault.services import load_member_policy
from tests.membervault.cli.support import (
    failed,
    fresh_services,
    go_production,
    ok,
    read_all_members,
    table_rows,
    token_response,
)


def demo_principals() -> set[str]:
    """The policy's demo clients plus the demo officer and admin."""
    return set(load_member_policy().clients) | {client_id for client_id, _, _ in STAFF}


def test_demo_loads_members_and_principals_and_a_rerun_keeps_them(migrated: Path) -> None:
    principals = demo_principals()
    assert len(principals) >= 7
    result = ok("demo", "--members", "20")
    assert f"{len(principals)} principals" in result.stderr
    credentials_path = migrated / "var" / "demo-credentials.json"
    first = credentials_path.read_text()
    credentials = json.loads(first)
    assert set(credentials) == principals
    assert {"loyalty-engine", "demo-officer", "demo-admin"} <= set(credentials)
    assert len(table_rows(Member)) == 20 + 1  # and the named demo member
    assert {c.client_id for c in table_rows(Client)} == principals
    assert f"sign in as {DEMO_EMAIL}" in result.stderr
    assert DEMO_EMAIL in read_all_members().values()

    for client_id, secret in credentials.items():
        response = token_response(client_id, secret)
        assert response.status_code == 200, (client_id, response.text)

    ok("demo", "--members", "20")
    assert len(table_rows(Member)) == 21
    assert {c.client_id for c in table_rows(Client)} == principals
    assert credentials_path.read_text() == first
    assert len(read_all_members()) == 21  # and every demo member reads back


def test_demo_fills_gaps_only(migrated: Path) -> None:
    ok("demo", "--members", "5")
    ok("demo", "--members", "8")
    assert len(table_rows(Member)) == 8 + 1


def test_demo_replaces_a_lost_member_despite_clashes(migrated: Path) -> None:
    ok("demo", "--members", "6")
    # remove demo member 0: demo member 5 is still there and a rerun first tries number 5
    [first] = [i for i, email in read_all_members().items() if email.endswith(".0@example.com")]
    built = fresh_services()
    try:
        with built.db.engine.begin() as connection:
            connection.execute(sa.delete(Member.__table__).where(Member.__table__.c.id == first))
    finally:
        built.close()
    assert len(table_rows(Member)) == 5 + 1
    ok("demo", "--members", "6")  # the next demo email may clash with one already there
    assert len(table_rows(Member)) == 6 + 1


def test_demo_recreates_lost_credentials(migrated: Path) -> None:
    ok("demo", "--members", "1")
    credentials_path = migrated / "var" / "demo-credentials.json"
    old = json.loads(credentials_path.read_text())
    credentials_path.unlink()
    ok("demo", "--members", "1")
    new = json.loads(credentials_path.read_text())
    assert set(new) == set(old)
    assert all(new[c] != old[c] for c in new)  # secrets were reset, not recovered
    assert token_response("demo-admin", new["demo-admin"]).status_code == 200
    assert token_response("demo-admin", old["demo-admin"]).status_code == 401


def test_demo_is_refused_in_production(migrated: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    go_production(migrated, monkeypatch)
    assert "development mode only" in failed("demo", "--members", "1")
    assert table_rows(Member) == []


def test_a_worker_refuses_to_start_without_a_usable_metrics_directory(
        migrated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_directory = migrated / "metrics-file"
    not_a_directory.write_text("")
    monkeypatch.setenv("MEMBERVAULT_METRICS_DIR", str(not_a_directory))
    message = failed("worker", "--once", code=2)
    assert "cannot start: metrics directory" in message and "Traceback" not in message
