"""Two ways to run a command: in its own directory with a fresh SQLite file, keyring and
mailbox (``workdir``, ``migrated``: the ``var/`` files the CLI writes land there too), or
against the test's own database and keyring (``cli``), to see what the API then does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.membervault.cli.support import ok, run
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
def migrated(workdir: Path) -> Path:
    ok("db", "upgrade")
    return workdir


@pytest.fixture
def cli(settings: Any, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Callable[..., Result]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MEMBERVAULT_KEK_FILE", settings.kek_file)
    return run
