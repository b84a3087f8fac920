"""Every test here keeps its export archives in its own temporary directory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vaultkernel.settings import Settings


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(settings, export_dir=str(tmp_path / "exports"))
