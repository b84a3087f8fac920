"""What the tests of the composition root share: a command's own working directory."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

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
