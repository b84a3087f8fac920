"""Fixtures of the outbox tests: loopback allowed, a fixed clock, a live receiver, an
officer."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from membervault.services import Services
from tests.conftest import Api, client_token, create_principal
from tests.outbox.support import LOOPBACK, Clock, Receiver, running_receiver
from vaultkernel.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver listens on loopback, which webhooks may reach only when allowed."""
    return dataclasses.replace(settings, webhook_allowed_networks=LOOPBACK)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver(clock: Clock) -> Iterator[Receiver]:
    with running_receiver(clock) as rx:
        yield rx


@pytest.fixture
def officer_api(http: Any, services: Services) -> Api:
    secret = create_principal(services, "test-officer", "officer")
    return Api(http, client_token(http, "test-officer", secret))
