"""Settings (environment over file over default), production safeguards and the keyring."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from identity.errors import KeyringError
from identity.keyring import Keyring, load_keyring, save_keyring
from membervault.app import create_app
from membervault.services import build_services
from vaultkernel.sealing import TamperedCiphertext
from vaultkernel.settings import Settings, SettingsError, load_settings

HTTPS_ISSUER = "https://members.example.com"
INTROSPECTION = "{ __schema { types { name } } }"


@pytest.fixture(autouse=True)
def no_settings_file_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``load_settings`` reads ./membervault.toml when present: work in an empty directory."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    return path


def settings_error(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)
    return str(caught.value)


def production_env(keyring_file: Path, **extra: str) -> dict[str, str]:
    return {"MEMBERVAULT_MODE": "production", "MEMBERVAULT_ISSUER": HTTPS_ISSUER,
            "MEMBERVAULT_SMTP_HOST": "smtp.example.com",
            "MEMBERVAULT_KEK_FILE": str(keyring_file), **extra}


# -- precedence -------------------------------------------------------------------------


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.mode == "development"
    assert not settings.production


def test_environment_overrides_the_settings_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'otp_ttl = 120\nissuer = "http://file.example"\n'
                                "otp_max_attempts = 3\ngraphiql = false\n")
    settings = load_settings({"MEMBERVAULT_SETTINGS_FILE": str(path),
                              "MEMBERVAULT_OTP_TTL": " 300 ", "MEMBERVAULT_GRAPHIQL": "yes"})
    assert settings.otp_ttl == 300  # environment
    assert settings.graphiql is True  # environment
    assert settings.issuer == "http://file.example"  # file
    assert settings.otp_max_attempts == 3  # file
    assert settings.otp_max_per_window == Settings.otp_max_per_window  # default


def test_membervault_toml_in_the_working_directory_is_read() -> None:
    Path("membervault.toml").write_text("max_query_depth = 7\n")
    assert load_settings({}).max_query_depth == 7
    assert load_settings({"MEMBERVAULT_MAX_QUERY_DEPTH": "8"}).max_query_depth == 8


def test_a_named_settings_file_must_exist(tmp_path: Path) -> None:
    message = settings_error({"MEMBERVAULT_SETTINGS_FILE": str(tmp_path / "missing.toml")})
    assert "missing.toml" in message


def test_a_malformed_settings_file_is_an_error(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "otp_ttl = = 3\n")
    assert "settings.toml" in settings_error({"MEMBERVAULT_SETTINGS_FILE": str(path)})


def test_unknown_keys_in_the_settings_file_are_named(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'otp_tll = 120\ncolour = "blue"\nport = 9000\n')
    message = settings_error({"MEMBERVAULT_SETTINGS_FILE": str(path)})
    assert message.endswith("unknown settings colour, otp_tll")  # not the known "port"


def test_unknown_environment_variables_are_ignored() -> None:
    assert load_settings({"MEMBERVAULT_TEST_DATABASE": "postgresql"}) == Settings()


# -- types ------------------------------------------------------------------------------


@pytest.mark.parametrize(("variable", "value"), [
    ("MEMBERVAULT_OTP_TTL", "ten minutes"),
    ("MEMBERVAULT_PORT", "8000.5"),
    ("MEMBERVAULT_SMTP_PORT", ""),
    ("MEMBERVAULT_MAX_BODY_BYTES", "256k"),
    ("MEMBERVAULT_WORKERS", "true"),
])
def test_bad_integers_name_the_variable(variable: str, value: str) -> None:
    message = settings_error({variable: value})
    assert variable in message
    assert "integer" in message
    if value:
        assert value not in message  # the value is not echoed (it could be a secret)


@pytest.mark.parametrize(("variable", "value"), [
    ("MEMBERVAULT_GRAPHIQL", "maybe"),
    ("MEMBERVAULT_INTROSPECTION", "2"),
    ("MEMBERVAULT_INTROSPECTION", ""),
])
def test_bad_booleans_name_the_variable(variable: str, value: str) -> None:
    message = settings_error({variable: value})
    assert variable in message
    assert "true or false" in message


@pytest.mark.parametrize(("text", "expected"), [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), ("on", True),
    ("0", False), ("false", False), ("No", False), (" off ", False),
])
def test_boolean_spellings(text: str, expected: bool) -> None:
    assert load_settings({"MEMBERVAULT_GRAPHIQL": text}).graphiql is expected


@pytest.mark.parametrize(("line", "name"), [
    ('otp_ttl = "ten"', "otp_ttl"),
    ("otp_ttl = true", "otp_ttl"),
    ("port = 8000.5", "port"),
    ("database_url = 5", "database_url"),
    ('graphiql = "maybe"', "graphiql"),
    ("graphiql = 1", "graphiql"),
    ("introspection = 0", "introspection"),
    ('introspection = ["yes"]', "introspection"),
])
def test_bad_values_in_the_settings_file_name_the_setting(tmp_path: Path, line: str,
                                                          name: str) -> None:
    path = write_toml(tmp_path, line + "\n")
    message = settings_error({"MEMBERVAULT_SETTINGS_FILE": str(path)})
    assert name in message.lower()


def test_typed_values_in_the_settings_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'port = 9000\ngraphiql = true\nintrospection = false\n'
                                'mailbox_file = " var/box.txt "\n')
    settings = load_settings({"MEMBERVAULT_SETTINGS_FILE": str(path)})
    assert settings.port == 9000
    assert settings.graphiql is True and settings.introspection is False
    assert settings.mailbox_file == "var/box.txt"


@pytest.mark.parametrize("name", ["CLIENT_TOKEN_TTL", "MEMBER_TOKEN_TTL", "OTP_TTL"])
def test_token_and_code_lifetimes_are_bounded(name: str) -> None:
    assert f"MEMBERVAULT_{name}" in settings_error({f"MEMBERVAULT_{name}": "29"})
    assert f"MEMBERVAULT_{name}" in settings_error({f"MEMBERVAULT_{name}": "86401"})
    assert getattr(load_settings({f"MEMBERVAULT_{name}": "30"}), name.lower()) == 30


def test_mode_must_be_known() -> None:
    assert "MEMBERVAULT_MODE" in settings_error({"MEMBERVAULT_MODE": "staging"})


def test_external_oidc_settings_come_together() -> None:
    assert "OIDC" in settings_error({"MEMBERVAULT_OIDC_ISSUER": "https://idp.example"})
    assert "OIDC" in settings_error({"MEMBERVAULT_OIDC_ISSUER": "https://idp.example",
                                     "MEMBERVAULT_OIDC_JWKS_URL": "https://idp.example/jwks"})


# -- production safeguards --------------------------------------------------------------


def test_production_settings_load(keyring_file: Path) -> None:
    settings = load_settings(production_env(keyring_file))
    assert settings.production
    assert not settings.graphiql_enabled
    assert not settings.introspection_enabled


def test_production_refuses_an_http_issuer(keyring_file: Path) -> None:
    message = settings_error(production_env(keyring_file,
                                            MEMBERVAULT_ISSUER="http://members.example.com"))
    assert "MEMBERVAULT_ISSUER" in message and "https://" in message


def test_production_requires_an_smtp_host(keyring_file: Path) -> None:
    env = production_env(keyring_file)
    del env["MEMBERVAULT_SMTP_HOST"]
    assert "MEMBERVAULT_SMTP_HOST" in settings_error(env)


def test_graphiql_and_introspection_follow_the_mode_unless_set() -> None:
    development = Settings()
    assert development.graphiql_enabled and development.introspection_enabled
    production = Settings(mode="production", issuer=HTTPS_ISSUER, smtp_host="smtp")
    assert not production.graphiql_enabled and not production.introspection_enabled
    enabled = production.replace(graphiql=True, introspection=True)
    assert enabled.graphiql_enabled and enabled.introspection_enabled
    disabled = development.replace(graphiql=False, introspection=False)
    assert not disabled.graphiql_enabled and not disabled.introspection_enabled


def test_production_refuses_a_missing_keyring_and_never_generates_one(tmp_path: Path) -> None:
    missing = tmp_path / "keys" / "keyring.json"
    settings = load_settings(production_env(missing))
    with pytest.raises(KeyringError, match="production"):
        build_services(settings)
    assert not missing.exists()
    assert not missing.parent.exists()
    with pytest.raises(KeyringError):
        load_keyring("", str(missing), production=True)
    assert not missing.exists()


def test_production_refuses_a_generated_keyring(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    save_keyring(Keyring.generate(), path)
    assert json.loads(path.read_text())["generated"] is True
    with pytest.raises(KeyringError, match="generated"):
        build_services(load_settings(production_env(path)))
    with pytest.raises(KeyringError, match="generated"):
        load_keyring(path.read_text(), "", production=True)  # given as MEMBERVAULT_KEK_JSON
    # development accepts it
    assert load_keyring("", str(path), production=False).generated


def test_development_generates_a_private_keyring_once(tmp_path: Path) -> None:
    path = tmp_path / "var" / "keyring.json"
    first = load_keyring("", str(path), production=False)
    assert first.generated
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = load_keyring("", str(path), production=False)
    assert again.to_json() == first.to_json()


def test_production_accepts_a_provisioned_keyring(keyring_file: Path) -> None:
    keyring = load_keyring("", str(keyring_file), production=True)
    assert not keyring.generated
    from_env = load_keyring(keyring_file.read_text(), "/nonexistent", production=True)
    assert from_env.to_json() == keyring.to_json()


# -- the keyring itself -----------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "not json", "[]", "{}", '{"active": 1, "keks": {}, "index_key": ""}',
    '{"active": 1, "keks": {"1": "c2hvcnQ="}, "index_key": "c2hvcnQ="}',
    '{"active": 1, "keks": {"1": "!!!"}, "index_key": "!!!"}',
    '{"active": 1, "keks": ["x"], "index_key": "x"}',
])
def test_malformed_keyrings_are_refused(text: str) -> None:
    with pytest.raises(KeyringError) as caught:
        Keyring.from_json(text, "test-keyring")
    assert "c2hvcnQ" not in str(caught.value)


def test_the_active_version_must_be_in_the_keyring() -> None:
    data = json.loads(Keyring.generate().to_json())
    data["active"] = 2
    with pytest.raises(KeyringError, match="active"):
        Keyring.from_json(json.dumps(data), "test-keyring")


def test_keyring_repr_shows_no_key_material() -> None:
    keyring = Keyring.generate()
    text = repr(keyring) + str(keyring)
    data = json.loads(keyring.to_json())
    assert data["keks"]["1"] not in text and data["index_key"] not in text
    assert "active=1" in text


def test_wrap_rotate_and_retire() -> None:
    keyring = Keyring.generate()
    version, wrapped = keyring.wrap(b"k" * 32, b"aad")
    assert version == 1
    rotated = keyring.with_new_version()
    assert rotated.active_version == 2 and rotated.versions == [1, 2]
    assert rotated.unwrap(1, wrapped, b"aad") == b"k" * 32  # old versions still unwrap
    with pytest.raises(TamperedCiphertext):
        rotated.unwrap(1, wrapped, b"other aad")
    with pytest.raises(TamperedCiphertext):
        rotated.unwrap(1, wrapped[:-1] + bytes([wrapped[-1] ^ 1]), b"aad")
    with pytest.raises(KeyringError, match="active"):
        rotated.without_version(2)
    with pytest.raises(KeyringError):
        rotated.without_version(7)
    retired = rotated.without_version(1)
    assert retired.versions == [2]
    with pytest.raises(KeyringError, match="retired"):
        retired.unwrap(1, wrapped, b"aad")
    restored = Keyring.from_json(retired.to_json(), "round-trip")
    assert restored.to_json() == retired.to_json()


# -- the production app: GraphiQL and introspection off unless enabled --------------------


@pytest.fixture
def app_for(database_url: str, keyring_file: Path,
            tmp_path: Path) -> Iterator[Any]:
    clients: list[TestClient] = []

    def build(mode: str, **extra: str) -> TestClient:
        env = {"MEMBERVAULT_DATABASE_URL": database_url,
               "MEMBERVAULT_MAILBOX_FILE": str(tmp_path / "mailbox.txt"),
               "MEMBERVAULT_KEK_FILE": str(keyring_file), **extra}
        if mode == "production":
            env = {**production_env(keyring_file), **env}
        client = TestClient(create_app(load_settings(env)), base_url="http://127.0.0.1:8000")
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def graphiql_page(client: TestClient) -> bool:
    response = client.get("/graphql", headers={"accept": "text/html"})
    is_page = (response.status_code == 200
               and response.headers.get("content-type", "").startswith("text/html")
               and "graphiql" in response.text.lower())
    if not is_page:
        assert "graphiql" not in response.text.lower()
    return is_page


def introspect(client: TestClient) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": INTROSPECTION})
    body: dict[str, Any] = response.json()
    return body


def introspection_works(client: TestClient) -> bool:
    body = introspect(client)
    if body.get("errors"):
        assert not (body.get("data") or {}).get("__schema")
        return False
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"Query", "Mutation"} <= names
    return True


def test_development_app_serves_graphiql_and_introspection(app_for: Any) -> None:
    client = app_for("development")
    assert graphiql_page(client)
    assert introspection_works(client)


def test_production_app_hides_graphiql_and_introspection(app_for: Any) -> None:
    client = app_for("production")
    assert not graphiql_page(client)
    assert not introspection_works(client)
    message = introspect(client)["errors"][0]["message"]
    assert "introspection" in message.lower()


def test_production_app_enables_them_only_when_asked(app_for: Any) -> None:
    introspection_only = app_for("production", MEMBERVAULT_INTROSPECTION="true")
    assert introspection_works(introspection_only)
    assert not graphiql_page(introspection_only)
    both = app_for("production", MEMBERVAULT_INTROSPECTION="true", MEMBERVAULT_GRAPHIQL="on")
    assert graphiql_page(both)
    assert introspection_works(both)


def test_development_app_can_turn_them_off(app_for: Any) -> None:
    client = app_for("development", MEMBERVAULT_INTROSPECTION="false",
                     MEMBERVAULT_GRAPHIQL="false")
    assert not graphiql_page(client)
    assert not introspection_works(client)
