"""Registering a client's webhook: ``membervault client webhook`` and the domain function."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from typer.testing import CliRunner

from identity.models import Client
from membervault.cli import app
from membervault.services import Services
from outbox import webhooks
from outbox.errors import OutboxError
from outbox.secrets import open_webhook_secret, seal_webhook_secret
from outbox.subscriptions import set_webhook, signing_secret, validate_url
from tests.conftest import create_principal
from vaultkernel.sealing import TamperedCiphertext
from vaultkernel.settings import Settings

runner = CliRunner()


@pytest.fixture
def cli_env(settings: Settings, services: Services, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Services:
    for f in fields(Settings):
        monkeypatch.delenv(f"MEMBERVAULT_{f.name.upper()}", raising=False)
    monkeypatch.delenv("MEMBERVAULT_SETTINGS_FILE", raising=False)
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MEMBERVAULT_KEK_FILE", settings.kek_file)
    monkeypatch.setenv("MEMBERVAULT_MAILBOX_FILE", settings.mailbox_file)
    monkeypatch.chdir(tmp_path)
    create_principal(services, "email-marketing", purposes=("marketing.email",))
    create_principal(services, "compliance", "officer")
    return services


def client(services: Services, client_id: str) -> Client:
    with services.db.unit_of_work() as uow:
        return uow.session.get_one(Client, client_id)


def test_the_cli_registers_a_webhook_and_prints_its_secret_once(cli_env: Services) -> None:
    result = runner.invoke(app, ["client", "webhook", "email-marketing",
                                 "--url", "http://127.0.0.1:9000/hooks"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and len(webhooks.secret_key(secret)) == 32
    row = client(cli_env, "email-marketing")
    assert row.webhook_url == "http://127.0.0.1:9000/hooks"
    assert row.sealed_webhook_secret is not None
    assert secret.encode() not in row.sealed_webhook_secret
    assert webhooks.secret_key(secret) not in row.sealed_webhook_secret
    assert signing_secret(cli_env.keyring, row) == secret

    again = runner.invoke(app, ["client", "webhook", "email-marketing",
                                "--url", "https://hooks.example.com/membervault"])
    assert again.exit_code == 0
    new_secret = again.stdout.strip().splitlines()[-1]
    assert new_secret != secret, "registering again replaces the secret"
    assert signing_secret(cli_env.keyring, client(cli_env, "email-marketing")) == new_secret

    removed = runner.invoke(app, ["client", "webhook", "email-marketing", "--remove"])
    assert removed.exit_code == 0 and "removed" in removed.stderr
    row = client(cli_env, "email-marketing")
    assert row.webhook_url is None and row.sealed_webhook_secret is None
    assert "no webhook" in runner.invoke(
        app, ["client", "webhook", "email-marketing", "--remove"]).stderr


@pytest.mark.parametrize(("args", "message"), [
    (["nobody", "--url", "https://x.example"], "no such client"),
    (["compliance", "--url", "https://x.example"], "only client services"),
    (["email-marketing", "--url", "ftp://x.example"], "http:// or https://"),
    (["email-marketing", "--url", "https://user:pw@x.example/h"], "no credentials"),
    (["email-marketing"], "exactly one of --url or --remove"),
    (["email-marketing", "--url", "https://x.example", "--remove"], "exactly one"),
])
def test_the_cli_refuses(cli_env: Services, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["client", "webhook", *args])
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())
    assert client(cli_env, "email-marketing").webhook_url is None


def test_production_takes_https_only(cli_env: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERVAULT_MODE", "production")
    monkeypatch.setenv("MEMBERVAULT_ISSUER", "https://membervault.example")
    monkeypatch.setenv("MEMBERVAULT_SMTP_HOST", "smtp.example")
    refused = runner.invoke(app, ["client", "webhook", "email-marketing",
                                  "--url", "http://hooks.example.com/h"])
    assert refused.exit_code == 1 and "https://" in refused.stderr
    accepted = runner.invoke(app, ["client", "webhook", "email-marketing",
                                   "--url", "https://hooks.example.com/h"])
    assert accepted.exit_code == 0, accepted.stderr
    assert client(cli_env, "email-marketing").webhook_url == "https://hooks.example.com/h"


@pytest.mark.parametrize("url", ["", "hooks.example.com", "https://", "https://h.example/#x",
                                 "https://h.example:99999/", "https://h.example/a b",
                                 "https://h.example/" + "x" * 500])
def test_invalid_urls(url: str) -> None:
    with pytest.raises(OutboxError) as caught:
        validate_url(url, production=False)
    assert caught.value.code == "INVALID_URL"



@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data", "https://127.0.0.1/hook", "https://[::1]/h",
    "https://10.0.0.5/h", "https://192.168.1.2/h", "https://localhost/h",
    "https://metadata.google.internal/x", "https://printer.local/h"])
def test_production_webhooks_cannot_target_internal_addresses(url: str) -> None:
    with pytest.raises(OutboxError):
        validate_url(url, production=True)
    assert validate_url("https://hooks.partner.example/membervault", production=True)

def test_a_sealed_secret_only_opens_for_its_client(services: Services) -> None:
    sealed = seal_webhook_secret(services.keyring, "email-marketing", "whsec_c2VjcmV0")
    assert open_webhook_secret(services.keyring, "email-marketing", sealed) == "whsec_c2VjcmV0"
    with pytest.raises(TamperedCiphertext):
        open_webhook_secret(services.keyring, "loyalty-engine", sealed)


def test_set_webhook_is_a_domain_function(services: Services) -> None:
    create_principal(services, "email-marketing", purposes=("marketing.email",))
    with services.db.unit_of_work() as uow:
        secret = set_webhook(uow.session, services.keyring, "email-marketing",
                             " https://hooks.example.com/h ", production=True, actor="test")
        uow.commit()
    row = client(services, "email-marketing")
    assert row.webhook_url == "https://hooks.example.com/h"
    assert signing_secret(services.keyring, row) == secret
