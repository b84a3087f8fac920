"""Clients' registrations are read from memory on most requests (identity.registrations),
yet a change takes effect on the next request in the process that made it, and within
5 seconds in every other process. "Another process" here is a second set of services
over the same database: its own connection pool, its own caches, its own clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from identity.models import Client
from identity.service import set_principal_active
from membervault.services import Services, build_services
from tests.conftest import Api, register
from vaultkernel.clock import OffsetClock
from vaultkernel.settings import Settings

MEMBER_DATA = """query($email: String!) {
  memberData(purpose: "marketing.email", email: $email) { email denied { field } } }"""
WITHIN = dt.timedelta(seconds=5.1)


def read(api: Api) -> Any:
    """The marketing client's read: the HTTP response (401 before any resolver runs)."""
    return api.http.post("/graphql", json={"query": MEMBER_DATA,
                                           "variables": {"email": "jane@example.org"}},
                         headers={"authorization": f"Bearer {api.token}"})


def answered(api: Api) -> bool:
    response = read(api)
    assert response.status_code == 200, response.text
    return "errors" not in response.json()


def refusal(api: Api) -> str:
    """The reason a request was refused: the 401 reason or the GraphQL error code."""
    response = read(api)
    if response.status_code == 401:
        return str(response.json()["reason"])
    return str(response.json()["errors"][0]["extensions"]["code"])


def set_active(services: Services, active: bool) -> None:
    with services.db.unit_of_work() as uow:
        set_principal_active(uow, "email-marketing", active, actor="admin:test")


def another_process(settings: Settings) -> Services:
    return build_services(settings, clock=OffsetClock())


def test_a_client_disabled_in_this_process_is_refused_on_its_next_request(
        marketing_api: Api, loyalty_api: Api, services: Services) -> None:
    register(loyalty_api, email="jane@example.org")
    assert answered(marketing_api)  # its registration is now in memory
    set_active(services, False)
    assert refusal(marketing_api) == "client_disabled"
    set_active(services, True)
    assert answered(marketing_api)


def test_a_client_disabled_by_another_process_is_refused_within_seconds(
        marketing_api: Api, loyalty_api: Api, services: Services, settings: Settings) -> None:
    register(loyalty_api, email="jane@example.org")
    assert answered(marketing_api)
    other = another_process(settings)
    try:
        set_active(other, False)
    finally:
        other.close()
    services.clock.advance(WITHIN)  # type: ignore[attr-defined]
    assert refusal(marketing_api) == "client_disabled"


def test_a_registration_narrowed_by_another_process_stops_the_purpose_within_seconds(
        marketing_api: Api, loyalty_api: Api, services: Services, settings: Settings) -> None:
    register(loyalty_api, email="jane@example.org")
    assert answered(marketing_api)
    other = another_process(settings)
    try:
        with other.db.unit_of_work() as uow:
            uow.session.execute(update(Client).where(Client.client_id == "email-marketing")
                                .values(allowed_purposes=[]))
            uow.commit()
    finally:
        other.close()
    services.clock.advance(WITHIN)  # type: ignore[attr-defined]
    assert refusal(marketing_api) == "PURPOSE_NOT_PERMITTED"

