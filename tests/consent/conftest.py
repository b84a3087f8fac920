"""The principals the consent tests share: a member registered by the loyalty engine and
signed in (Quillon, ``quillon@example.org``: a name no receipt or log holds by chance), and
a compliance officer."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api, client_token, create_principal
from tests.consent.support import new_member
from vaultkernel.settings import Settings


@pytest.fixture
def member(loyalty_api: Api, http: TestClient, settings: Settings) -> tuple[Api, dict[str, Any]]:
    return new_member(loyalty_api, http, settings, "quillon", 1)


@pytest.fixture
def officer_api(http: TestClient, services: Any) -> Api:
    secret = create_principal(services, "officer-otto", "officer")
    return Api(http, client_token(http, "officer-otto", secret))
