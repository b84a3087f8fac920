"""Fixtures of the console's tests: officers in the browser (signed in or not), another
principal's credentials, and requests to look at."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from membervault.services import Services
from subject_requests import opening
from tests.conftest import create_principal
from tests.membervault.console.support import Officer
from tests.membervault.web.conftest import jane_web, mailbox, visitor, visitors  # noqa: F401  (members)
from tests.membervault.web.support import Visitor
from vaultkernel.clock import OffsetClock

OFFICER = "dpo-office"


@pytest.fixture
def officers(app: Any) -> Iterator[Callable[[], Officer]]:
    made: list[Officer] = []

    def officer() -> Officer:
        made.append(Officer(app))
        return made[-1]

    yield officer
    for o in made:
        o.close()


@pytest.fixture
def officer_secret(services: Services) -> str:
    return create_principal(services, OFFICER, "officer")


@pytest.fixture
def officer_web(officers: Callable[[], Officer], officer_secret: str) -> Officer:
    """The DPO office, signed in to the console."""
    officer = officers()
    answer = officer.sign_in(OFFICER, officer_secret)
    assert answer.status_code == 303, answer.text
    assert officer.follow(answer).status_code == 200  # the new session's CSRF token
    return officer


@pytest.fixture
def clock(services: Services) -> OffsetClock:
    assert isinstance(services.clock, OffsetClock)
    return services.clock


def open_request(services: Services, member_id: str, type_: str = "access", *,
                 verified: bool = True) -> uuid.UUID:
    """A request of the member's, opened as the privacy centre opens one (identity
    verified by the sign-in) or as received by post (identity still to verify)."""
    with services.db.unit_of_work() as uow:
        snapshot = opening.open_request(
            uow, services.request_workflow, uuid.UUID(member_id), type_, jurisdiction="GDPR",
            actor=f"member:{member_id}",
            identity_verification="signed in to the privacy centre" if verified else None,
            now=services.clock.now())
    return snapshot.request.id


@pytest.fixture
def jane_access(services: Services, jane: dict[str, Any]) -> uuid.UUID:
    return open_request(services, jane["id"])


@pytest.fixture
def jane_consented(jane_web: Visitor) -> Visitor:  # noqa: F811  (the fixture above)
    """Jane, who said yes to email offers in the privacy centre."""
    granted = jane_web.post("/privacy/consents", {"action": "grant",
                                                  "purpose": "marketing.email",
                                                  "notice_version": "1"})
    assert granted.status_code == 303
    return jane_web
