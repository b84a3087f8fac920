"""Settings (vaultkernel.settings): environment over file over default, types, and the
production safeguards."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import HTTPS_ISSUER, production_env
from vaultkernel.settings import Settings, SettingsError, load_settings

pytestmark = pytest.mark.usefixtures("no_settings_file_in_cwd")


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    return path


def settings_error(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)
    return str(caught.value)


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


def test_a_metrics_token_must_not_be_guessable() -> None:
    error = settings_error({"MEMBERVAULT_METRICS_TOKEN": "x" * 31})
    assert "MEMBERVAULT_METRICS_TOKEN" in error and "x" * 31 not in error
    assert load_settings({"MEMBERVAULT_METRICS_TOKEN": "x" * 32}).metrics_token == "x" * 32
    assert load_settings({}).metrics_token == ""  # /metrics closed


def test_the_otlp_endpoint_is_an_http_url() -> None:
    assert "MEMBERVAULT_OTLP_ENDPOINT" in settings_error(
        {"MEMBERVAULT_OTLP_ENDPOINT": "collector:4318"})
    url = "http://collector:4318/v1/traces"
    assert load_settings({"MEMBERVAULT_OTLP_ENDPOINT": url}).otlp_endpoint == url


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
