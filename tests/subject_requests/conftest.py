"""Every test here keeps its export archives in its own temporary directory; ``officer``
is a compliance officer's API."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api
from tests.subject_requests.support import officer_api
from vaultkernel.settings import Settings


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(settings, export_dir=str(tmp_path / "exports"))


@pytest.fixture
def officer(http: Any, services: Any) -> Api:
    return officer_api(http, services, "officer-r")
