"""What the tests of the composition root share: a command's own working directory, and an
empty database of the backend under test for the migration tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest

from tests.conftest import BACKEND, fresh_postgres_database
from vaultkernel.settings import Settings


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


@pytest.fixture
def blank_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of the backend under test, for migrations of its own."""
    if BACKEND != "postgresql":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server: str = request.getfixturevalue("postgres_server_url")
    with fresh_postgres_database(server, "mv_migrate") as url:
        yield url
