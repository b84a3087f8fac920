"""``membervault token`` (membervault/cli/tokens.py): development tokens only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from identity import members
from identity.models import Member
from tests.membervault.cli.support import (
    JWT,
    failed,
    fresh_services,
    go_production,
    http_client,
    ok,
    register_members,
)


def test_token_for_a_client_in_development(migrated: Path) -> None:
    ok("client", "create", "crm-sync", "--name", "CRM", "--kind", "crm",
       "--purpose", "loyalty.membership")
    token = ok("token", "--client", "crm-sync").stdout.strip()
    assert JWT.match(token)
    built = fresh_services()
    try:
        principal = built.verifier.verify(token)
    finally:
        built.close()
    assert principal.role == "client"
    assert principal.purposes == {"loyalty.membership"}
    assert "no such client" in failed("token", "--client", "nobody")
    assert "exactly one" in failed("token")


def test_token_for_a_member_in_development(migrated: Path) -> None:
    [member_id] = register_members(1)
    built = fresh_services()
    try:
        with built.db.unit_of_work() as uow:
            number = members.open_member(built.crypto,
                                    uow.session.get_one(Member, member_id)).member_number
    finally:
        built.close()
    token = ok("token", "--member", number).stdout.strip()
    with http_client() as http:
        response = http.post("/graphql", json={"query": "{ me { id } }"},
                             headers={"authorization": f"Bearer {token}"})
    assert response.json()["data"]["me"]["id"] == str(member_id)
    assert "malformed" in failed("token", "--member", "123")


def test_token_is_refused_in_production(migrated: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ok("admin", "create", "jo-admin", "--name", "Jo")
    go_production(migrated, monkeypatch)  # a new keyring: production refuses generated ones
    message = failed("token", "--client", "jo-admin")
    assert "development mode only" in message
    assert not re.search(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}\.", message)
