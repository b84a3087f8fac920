"""The ``membervault`` command line, run in-process with typer's CliRunner.

Each test works in its own directory: a fresh SQLite file, keyring and mailbox, and the
``var/`` files the CLI writes relative to the working directory.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from starlette.testclient import TestClient
from typer.testing import CliRunner

from identity import members
from identity.keyring import Keyring, save_keyring
from identity.models import Client, Member, SigningKey
from membervault.app import create_app
from membervault.cli import app
from membervault.demo import DEMO_EMAIL, STAFF
from membervault.services import (
    DEFAULT_POLICY,
    Services,
    build_services,
    ensure_signing_key,
    load_member_policy,
)
from vaultkernel.settings import Settings, load_settings

runner = CliRunner()
JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for f in fields(Settings):
        monkeypatch.delenv(f"MEMBERVAULT_{f.name.upper()}", raising=False)
    monkeypatch.delenv("MEMBERVAULT_SETTINGS_FILE", raising=False)
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MEMBERVAULT_KEK_FILE", str(tmp_path / "keys" / "keyring.json"))
    monkeypatch.setenv("MEMBERVAULT_MAILBOX_FILE", str(tmp_path / "mailbox.txt"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def failed(*args: str, code: int = 1) -> str:
    """Run a command that must fail; return its message with whitespace collapsed."""
    result = run(*args)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), "a clean exit, not a traceback"
    return " ".join(result.stderr.split())


def secret_of(result: Result) -> str:
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, "stdout holds only the secret"
    return lines[0]


@pytest.fixture
def migrated(workdir: Path) -> Path:
    ok("db", "upgrade")
    return workdir


def fresh_services() -> Services:
    """Services as the CLI builds them, from the environment; build anew after a CLI run
    (it may have changed the keyring). Close them when done."""
    return build_services(load_settings())


def http_client() -> TestClient:
    return TestClient(create_app(load_settings()), base_url="http://127.0.0.1:8000")


def token_response(client_id: str, secret: str) -> Any:
    with http_client() as http:
        return http.post("/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(client_id, secret))


def register_members(count: int) -> list[uuid.UUID]:
    built = fresh_services()
    ids = []
    try:
        for n in range(count):
            with built.db.unit_of_work() as uow:
                profile = members.enrol_member(
                    uow, built.crypto,
                    {"given_name": f"Member{n}", "family_name": "Example",
                     "email": f"member{n}@example.org", "phone": f"07400 1{n:05d}"},
                    actor="test", default_region="GB")
            ids.append(profile.member_id)
    finally:
        built.close()
    return ids


def read_all_members() -> dict[uuid.UUID, str]:
    built = fresh_services()
    try:
        with built.db.unit_of_work() as uow:
            ids = uow.session.scalars(sa.select(Member.id)).all()
            return {i: members.open_member(built.crypto, uow.session.get_one(Member, i)).email for i in ids}
    finally:
        built.close()


def keyring_file(workdir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((workdir / "keys" / "keyring.json").read_text())
    return data


def table_rows(model: Any) -> list[Any]:
    built = fresh_services()
    try:
        with built.db.unit_of_work() as uow:
            return list(uow.session.scalars(sa.select(model)).all())
    finally:
        built.close()


def go_production(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keyring = Keyring.generate()
    keyring.generated = False
    save_keyring(keyring, workdir / "keys" / "keyring.json")
    monkeypatch.setenv("MEMBERVAULT_MODE", "production")
    monkeypatch.setenv("MEMBERVAULT_ISSUER", "https://members.example.com")
    monkeypatch.setenv("MEMBERVAULT_SMTP_HOST", "smtp.example.com")


# -- db ---------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema(workdir: Path) -> None:
    result = ok("db", "upgrade")
    assert "head" in result.stderr
    engine = sa.create_engine(f"sqlite:///{workdir / 'cli.db'}")
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"members", "clients", "signing_keys", "sign_in_codes", "alembic_version"} <= tables
    ok("db", "upgrade")  # idempotent


def test_a_configuration_error_exits_with_2(workdir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERVAULT_OTP_TTL", "soon")
    assert "MEMBERVAULT_OTP_TTL" in failed("db", "upgrade", code=2)


# -- principals -------------------------------------------------------------------------


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


# -- key-encryption keys ----------------------------------------------------------------


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


# -- signing keys -----------------------------------------------------------------------


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


# -- development tokens -----------------------------------------------------------------


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


def test_production_refuses_a_generated_keyring_at_the_cli(
        migrated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh_services().close()  # a development keyring, generated: true
    monkeypatch.setenv("MEMBERVAULT_MODE", "production")
    monkeypatch.setenv("MEMBERVAULT_ISSUER", "https://members.example.com")
    monkeypatch.setenv("MEMBERVAULT_SMTP_HOST", "smtp.example.com")
    assert "generated" in failed("token", "--client", "x", code=2)


# -- demo -------------------------------------------------------------------------------


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


# -- schema -----------------------------------------------------------------------------


def test_schema_export_writes_the_sdl(workdir: Path) -> None:
    from schema.schema import sdl

    target = workdir / "out" / "schema.graphql"
    target.parent.mkdir()
    ok("schema", "export", str(target))  # never the default: that is the repository file
    text = target.read_text()
    assert text == sdl()
    assert "type Query" in text and "type Mutation" in text


def test_the_cli_refuses_to_start_on_an_invalid_policy(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text(DEFAULT_POLICY.read_text().replace('"contact.email", "profile.language"]',
                                                      '"contact.fax"]', 1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEMBERVAULT_POLICY_FILE", str(bad))
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite")
    result = CliRunner().invoke(app, ["client", "list"])
    assert result.exit_code == 2
    assert "unknown category 'contact.fax'" in result.output
