"""Managing principals and keys from the command line, and what the API then does."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from identity.keyring import Keyring
from membervault.cli import app
from tests.conftest import client_token, create_principal

LOOKUP = '{ member(email: "nobody@example.org", reason: "support ticket 4711") { id } }'


@pytest.fixture
def cli(settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MEMBERVAULT_KEK_FILE", settings.kek_file)

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, list(args))

    return run


def test_a_disabled_client_loses_tokens_and_access(cli: Any, http: Any, services: Any) -> None:
    secret = create_principal(services, "ops-admin", "admin")
    token = client_token(http, "ops-admin", secret)
    headers = {"authorization": f"Bearer {token}"}
    assert http.post("/graphql", json={"query": LOOKUP}, headers=headers).status_code == 200
    assert cli("client", "disable", "ops-admin").exit_code == 0
    services.clock.advance(services.registrations.ttl)  # another process's change
    refused = http.post("/graphql", json={"query": LOOKUP}, headers=headers)
    assert refused.status_code == 401 and refused.json()["reason"] == "client_disabled"
    assert http.post("/oauth/token", data={"grant_type": "client_credentials"},
                     auth=("ops-admin", secret)).status_code == 401
    listing = cli("client", "list")
    assert "ops-admin admin disabled" in listing.output
    assert cli("client", "enable", "ops-admin").exit_code == 0
    services.clock.advance(services.registrations.ttl)
    assert http.post("/graphql", json={"query": LOOKUP}, headers=headers).status_code == 200
    assert cli("client", "disable", "no-such-client").exit_code == 1


def test_reset_secret_replaces_the_old_one(cli: Any, http: Any, services: Any) -> None:
    old = create_principal(services, "ops-admin", "admin")
    result = cli("client", "reset-secret", "ops-admin")
    assert result.exit_code == 0
    new = result.stdout.strip().splitlines()[-1]
    assert new != old
    assert http.post("/oauth/token", data={"grant_type": "client_credentials"},
                     auth=("ops-admin", old)).status_code == 401
    assert client_token(http, "ops-admin", new)


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
    from tests.conftest import register

    register(loyalty_api, email="before@example.org", phone="07400 123401")
    assert cli("keys", "rotate").exit_code == 0  # another process writes version 2
    assert json.loads(Path(settings.kek_file).read_text())["active"] == 2
    # This process never restarted; within a second it wraps new members under version 2.
    services.clock.advance(dt.timedelta(seconds=1.1))
    after = register(loyalty_api, email="after@example.org", phone="07400 123402")
    assert after["errors"] == []
    assert cli("keys", "retire-kek", "1").exit_code == 0  # refused if any key were under 1
    # ...and after version 1 is retired, everything is still readable here.
    from sqlalchemy import select

    from identity import members
    from identity.models import Member

    with services.db.unit_of_work() as uow:
        emails = {members.open_member(services.crypto, m).email
                  for m in uow.session.scalars(select(Member))}
    assert emails == {"before@example.org", "after@example.org"}
