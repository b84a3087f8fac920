"""What every command shares (membervault/cli/context.py): a configuration, keyring or
policy that cannot start the services ends the command with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from membervault.cli import app
from membervault.services import DEFAULT_POLICY
from tests.membervault.cli.support import failed, fresh_services


def test_a_configuration_error_exits_with_2(workdir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERVAULT_OTP_TTL", "soon")
    assert "MEMBERVAULT_OTP_TTL" in failed("db", "upgrade", code=2)


def test_production_refuses_a_generated_keyring_at_the_cli(
        migrated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh_services().close()  # a development keyring, generated: true
    monkeypatch.setenv("MEMBERVAULT_MODE", "production")
    monkeypatch.setenv("MEMBERVAULT_ISSUER", "https://members.example.com")
    monkeypatch.setenv("MEMBERVAULT_SMTP_HOST", "smtp.example.com")
    assert "generated" in failed("token", "--client", "x", code=2)


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


def test_the_cli_refuses_to_start_on_a_consent_purpose_without_a_notice_in_a_language(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = DEFAULT_POLICY.read_text()
    bad = tmp_path / "policy.toml"
    bad.write_text(text[:text.index("[translations.nb]")] + text[text.index("[translations.bg]"):])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEMBERVAULT_POLICY_FILE", str(bad))
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    # one line, brackets and all (the message is text, not console markup)
    assert result.output.strip().splitlines() == [
        f"cannot start: {bad}: purposes.rewards.birthday: no notice in 'nb' (members are "
        "served in en, sv, nb, bg): add [translations.nb]"]
