"""The benchmark suite's own checks, on the test database (SQLite or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.env import Env
from membervault.services import Services
from tests.conftest import BACKEND
from vaultkernel.settings import Settings


@pytest.fixture
def env(services: Services, settings: Settings, tmp_path: Path) -> Env:
    """The test database as a benchmark environment (the bench's seeding works on it)."""
    return Env(kind=BACKEND, url=settings.database_url, workdir=tmp_path, settings=settings,
               services=services)
