"""``membervault keys ...`` (membervault/cli/keys.py): key-encryption keys and token
signing keys, and a running process that picks up a rotated keyring."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from identity import members
from identity.keyring import Keyring
from identity.models import Member, SigningKey
from membervault.services import ensure_signing_key
from tests.conftest import register
from tests.membervault.cli.support import (
    failed,
    fresh_services,
    http_client,
    keyring_file,
    ok,
    read_all_members,
    register_members,
    table_rows,
)


def test_keys_rotate_rewraps_every_member(migrated: Path) -> None:
    ids = register_members(7)
    fresh_services().close()  # the keyring exists now (generated on first use)
    before = read_all_members()
    assert keyring_file(migrated)["active"] == 1

    result = ok("keys", "rotate")
    assert "KEK version 2 active" in " ".join(result.stderr.split())
    data = keyring_file(migrated)
    assert data["active"] == 2
    assert sorted(data["keks"]) == ["1", "2"]
    assert read_all_members() == before
    assert set(before) == set(ids)
    assert {m.kek_version for m in table_rows(Member)} == {2}


def test_retire_kek_after_rotation(migrated: Path) -> None:
    register_members(3)
    with http_client():  # creates the signing key, wrapped by version 1
        pass
    before = read_all_members()
    ok("keys", "rotate")
    assert {k.kek_version for k in table_rows(SigningKey)} == {2}

    result = ok("keys", "retire-kek", "1")
    assert "retired" in result.stderr
    data = keyring_file(migrated)
    assert data["active"] == 2
    assert sorted(data["keks"]) == ["2"]
    assert read_all_members() == before
    with http_client() as http:  # the app still signs and verifies with the re-wrapped key
        assert http.get("/.well-known/jwks.json").status_code == 200


def test_retire_kek_refuses_the_active_version(migrated: Path) -> None:
    fresh_services().close()
    assert "active" in failed("keys", "retire-kek", "1")
    register_members(2)  # with keys wrapped by it, the reason is still that it is active
    message = failed("keys", "retire-kek", "1")
    assert "active" in message
    assert sorted(keyring_file(migrated)["keks"]) == ["1"]
    assert "not in the keyring" in failed("keys", "retire-kek", "9")


def test_rotation_refuses_a_keyring_given_as_json(migrated: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fresh_services().close()
    monkeypatch.setenv("MEMBERVAULT_KEK_JSON", (migrated / "keys" / "keyring.json").read_text())
    assert "MEMBERVAULT_KEK_FILE" in failed("keys", "rotate")


def test_roll_then_retire_the_old_signing_key(migrated: Path) -> None:
    ok("client", "create", "crm-sync", "--name", "CRM", "--kind", "crm",
       "--purpose", "loyalty.membership")
    built = fresh_services()
    ensure_signing_key(built)
    built.close()
    [old] = [k.kid for k in table_rows(SigningKey)]
    old_token = ok("token", "--client", "crm-sync").stdout.strip()

    result = ok("keys", "roll-signing")
    rows = {k.kid: k for k in table_rows(SigningKey)}
    [new] = [kid for kid, row in rows.items() if row.active]
    assert new != old and not rows[old].active
    assert new in result.stderr

    def published() -> set[str]:
        with http_client() as http:
            return {k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]}

    def accepted(token: str) -> bool:
        with http_client() as http:
            response = http.post("/graphql", json={"query": "{ __typename }"},
                                 headers={"authorization": f"Bearer {token}"})
            return response.status_code == 200

    assert published() == {old, new}
    assert accepted(old_token)  # the old key keeps verifying until retired

    # "--": a kid is token_urlsafe and may begin with "-", which click would take for an option
    assert "active" in failed("keys", "retire-signing", "--", new)
    ok("keys", "retire-signing", "--", old)
    assert published() == {new}
    assert not accepted(old_token)
    assert accepted(ok("token", "--client", "crm-sync").stdout.strip())
    assert "no published signing key" in failed("keys", "retire-signing", "--", old)


def test_keys_init_writes_a_production_keyring_and_never_overwrites(cli: Any,
                                                                    tmp_path: Path) -> None:
    target = tmp_path / "prod-keyring.json"
    assert cli("keys", "init", str(target)).exit_code == 0
    keyring = Keyring.from_json(target.read_text(), "test")
    assert keyring.generated is False and keyring.active == 1
    assert oct(target.stat().st_mode)[-3:] == "600"
    before = target.read_text()
    again = cli("keys", "init", str(target))
    assert again.exit_code == 1 and target.read_text() == before


def test_keys_list_shows_versions_and_signing_keys(cli: Any, services: Any) -> None:
    result = cli("keys", "list")
    assert result.exit_code == 0
    assert "KEK 1 (active)" in result.output
    assert "active" in result.output and "signing key" in result.output


def test_a_running_process_picks_up_a_rotated_keyring(cli: Any, services: Any,
                                                      loyalty_api: Any, settings: Any) -> None:
    register(loyalty_api, email="before@example.org", phone="07400 123401")
    assert cli("keys", "rotate").exit_code == 0  # another process writes version 2
    assert json.loads(Path(settings.kek_file).read_text())["active"] == 2
    # This process never restarted; within a second it wraps new members under version 2.
    services.clock.advance(dt.timedelta(seconds=1.1))
    after = register(loyalty_api, email="after@example.org", phone="07400 123402")
    assert after["errors"] == []
    assert cli("keys", "retire-kek", "1").exit_code == 0  # refused if any key were under 1
    # ...and after version 1 is retired, everything is still readable here.
    with services.db.unit_of_work() as uow:
        emails = {members.open_member(services.crypto, m).email
                  for m in uow.session.scalars(select(Member))}
    assert emails == {"before@example.org", "after@example.org"}
