"""``membervault client|officer|admin ...`` (membervault/cli/principals.py), and what the
API then does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from identity.models import Client
from tests.conftest import client_token, create_principal
from tests.membervault.cli.support import (
    failed,
    fresh_services,
    ok,
    secret_of,
    table_rows,
    token_response,
)

LOOKUP = '{ member(email: "nobody@example.org", reason: "support ticket 4711") { id } }'


def test_client_create_prints_a_secret_that_works_at_the_token_endpoint(
        migrated: Path) -> None:
    result = ok("client", "create", "crm-sync", "--name", "CRM sync", "--kind", "crm",
                "--purpose", "loyalty.membership", "--purpose", "marketing.email")
    secret = secret_of(result)
    assert secret not in result.stderr
    assert "crm-sync" in result.stderr

    response = token_response("crm-sync", secret)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["scope"].split()) == {"purpose:loyalty.membership", "purpose:marketing.email"}

    assert token_response("crm-sync", secret + "x").status_code == 401
    [client] = [c for c in table_rows(Client) if c.client_id == "crm-sync"]
    assert (client.role, client.kind, client.name) == ("client", "crm", "CRM sync")
    assert secret.encode() not in client.secret_hash


def test_client_create_refuses_an_unknown_purpose(migrated: Path) -> None:
    message = failed("client", "create", "crm-sync", "--name", "CRM", "--kind", "crm",
                     "--purpose", "loyalty.membership", "--purpose", "mind.reading")
    assert "unknown purposes: mind.reading" in message
    assert table_rows(Client) == []


def test_client_create_refuses_bad_and_duplicate_ids(migrated: Path) -> None:
    assert "client id" in failed("client", "create", "X", "--name", "x", "--kind", "crm",
                                 "--purpose", "loyalty.membership")
    ok("client", "create", "crm-sync", "--name", "CRM", "--kind", "crm",
       "--purpose", "loyalty.membership")
    assert "exists" in failed("client", "create", "crm-sync", "--name", "CRM", "--kind", "crm",
                              "--purpose", "loyalty.membership")


@pytest.mark.parametrize("role", ["officer", "admin"])
def test_officer_and_admin_create(migrated: Path, role: str) -> None:
    result = ok(role, "create", f"jo-{role}", "--name", f"Jo the {role}")
    secret = secret_of(result)
    response = token_response(f"jo-{role}", secret)
    assert response.status_code == 200, response.text
    built = fresh_services()
    try:
        principal = built.verifier.verify(response.json()["access_token"])
    finally:
        built.close()
    assert principal.role == role
    assert principal.subject == f"jo-{role}"
    [row] = table_rows(Client)
    assert (row.role, row.kind, row.allowed_purposes) == (role, role, [])
    assert "exists" in failed(role, "create", f"jo-{role}", "--name", "again")


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
