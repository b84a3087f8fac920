"""What the command-line tests share: running ``membervault`` in-process with typer's
CliRunner, and looking at what a command left behind with services built as the CLI builds
them."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from starlette.testclient import TestClient
from typer.testing import CliRunner

from identity import members
from identity.keyring import Keyring, save_keyring
from identity.models import Member
from membervault.app import create_app
from membervault.cli import app
from membervault.services import Services, build_services
from vaultkernel.settings import load_settings

runner = CliRunner()


JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


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
