"""One real server for the whole replay (``membervault serve`` in a subprocess, on the
backend under test), principals named by role, and members registered through the API."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.attacks.server import Server, sign_in, started
from tests.conftest import JANE, Api, register

_numbers = itertools.count(1)
ENROLLED: list[str] = []  # every member's address the replays used


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory,
           request: pytest.FixtureRequest) -> Iterator[Server]:
    """The server the attacks are replayed against. Introspection is off, as in
    production; the webhook receivers of the replays listen on 127.0.0.1, which the
    operator allows (and nothing else inside); the replays reach it as through a proxy on
    127.0.0.1 that names each caller's address in ``X-Forwarded-For``. When it stops, no
    address of a member the replays enrolled may be in anything it wrote to its log."""
    with started(tmp_path_factory.mktemp("attacked"), request,
                 MEMBERVAULT_INTROSPECTION="false",
                 MEMBERVAULT_FORWARDED_ALLOW_IPS="127.0.0.1",
                 MEMBERVAULT_WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32") as running:
        yield running
        log = running.log()
        assert [e for e in ENROLLED if e in log] == []


@pytest.fixture(scope="session")
def admin(server: Server) -> Api:
    return server.api("attack-admin")


@pytest.fixture(scope="session")
def officer(server: Server) -> Api:
    return server.api("attack-officer")


@pytest.fixture(scope="session")
def marketing(server: Server) -> Api:
    return server.api("email-marketing")


@pytest.fixture(scope="session")
def loyalty(server: Server) -> Api:
    return server.api("loyalty-engine")


Enrol = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def enrol(admin: Api) -> Enrol:
    """``enrol("ann")`` registers a member through the API with an address and phone of
    their own (every call a new one); returns the admin's view of them plus ``email``."""

    def new(name: str, **overrides: Any) -> dict[str, Any]:
        n = next(_numbers)
        email = overrides.pop("email", f"{name}.{uuid.uuid4().hex[:8]}@example.org")
        payload = register(admin, email=email, phone=f"07400{n:06d}",
                           givenName=name.title(), **overrides)
        ENROLLED.append(email)
        assert payload["errors"] == [], payload
        member: dict[str, Any] = payload["member"]
        return {**JANE, **member, "email": email}

    return new


SignIn = Callable[[str], Api]


@pytest.fixture(scope="session")
def member_api(server: Server) -> SignIn:
    """``member_api(email)``: the member, signed in with a code from the mailbox."""
    return lambda email: sign_in(server, email)
