"""Two ways to run a command: in its own directory with a fresh SQLite file, keyring and
mailbox (``workdir``, ``migrated``: the ``var/`` files the CLI writes land there too), or
against the test's own database and keyring (``cli``), to see what the API then does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.membervault.cli.support import ok, run


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
