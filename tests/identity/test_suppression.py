"""An erased address that comes back (identity.suppression), replaying the audit: a member
who had opted out of marketing is erased, and the same email registers again. It is a
fresh member, nothing linked to the erased one, but the suppression is recorded and
enforced: no client may grant direct marketing for them (MARKETING_SUPPRESSED) until the
member grants it themself, purpose by purpose; an address that was never opted out is not
suppressed; an email changed to a suppressed address is marked too."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from audit.models import AuditEvent
from identity.models import Member
from identity.suppression import ACTOR
from membervault.services import Services
from subject_requests.erasure import erase_pending
from tests.conftest import JANE, Api, register
from tests.consent.support import (
    GRANT,
    MEMBER_DATA,
    collector,
    grant,
    record,
    signed_in,
    withdraw,
)
from tests.retention.support import open_erasure
from vaultkernel.clock import utcnow
from vaultkernel.settings import Settings


@pytest.fixture
def store_api(http: TestClient, services: Services) -> Api:
    return collector(http, services, "store-counter", "store")


def erased(services: Services, member_id: str) -> None:
    open_erasure(services, member_id)
    assert erase_pending(services.db, services.erasure_kit, now=utcnow()) == 1


def member_row(services: Services, member_id: str) -> Member:
    with services.db.unit_of_work() as uow:
        member = uow.session.get(Member, uuid.UUID(member_id))
        assert member is not None
        return member


def trail(services: Services, member_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    with services.db.unit_of_work() as uow:
        return [(e.actor, e.action, dict(e.details or {})) for e in uow.session.scalars(
            select(AuditEvent).where(AuditEvent.member_id == uuid.UUID(member_id))
            .order_by(AuditEvent.id))]


def read_email(api: Api, number: str) -> dict[str, Any]:
    result = api.graphql(MEMBER_DATA, {"purpose": "marketing.email", "number": number})
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]["memberData"]
    return data


def test_an_erased_address_that_opted_out_comes_back_suppressed_until_it_grants_itself(
        http: TestClient, services: Services, settings: Settings, loyalty_api: Api,
        marketing_api: Api, store_api: Api, jane: dict[str, Any], jane_api: Api) -> None:
    grant(jane_api, "marketing.email")
    withdraw(jane_api, "marketing.email")
    erased(services, jane["id"])

    again = register(loyalty_api)  # the same email (and phone) as the erased Jane
    assert again["errors"] == []
    back = again["member"]
    assert back["id"] != jane["id"] and back["memberNumber"] != jane["memberNumber"]
    row = member_row(services, back["id"])
    assert row.status == "active" and row.marketing_suppressed_at is not None
    assert (ACTOR, "marketing.suppressed") in [(a, e) for a, e, _ in trail(services, back["id"])]
    assert member_row(services, jane["id"]).status == "erased"  # nothing was relinked

    # No client may grant direct marketing for them: not the till, for any such purpose.
    for purpose in services.policy.direct_marketing:
        refused = record(store_api, back["memberNumber"], purpose)
        assert refused["errors"] == [{"field": "purpose", "code": "MARKETING_SUPPRESSED"}]
    assert read_email(marketing_api, back["memberNumber"])["email"] is None
    # Other consent purposes are not suppressed.
    assert record(store_api, back["memberNumber"], "rewards.birthday")["errors"] == []

    # The member grants marketing by email themself: it applies, and is recorded.
    back_api = signed_in(http, settings, JANE["email"])
    grant(back_api, "marketing.email")
    assert read_email(marketing_api, back["memberNumber"])["email"] == JANE["email"]
    lifted = [d for _, e, d in trail(services, back["id"]) if e == "marketing.suppression_lifted"]
    assert lifted == [{"purpose": "marketing.email"}]

    # Only that purpose: the till may now record marketing by email, not by SMS.
    assert record(store_api, back["memberNumber"], "marketing.email", granted=False)[
        "errors"] == []
    assert record(store_api, back["memberNumber"], "marketing.email")["errors"] == []
    assert record(store_api, back["memberNumber"], "marketing.sms")["errors"] == [
        {"field": "purpose", "code": "MARKETING_SUPPRESSED"}]


def test_an_erased_address_that_never_opted_out_comes_back_as_any_new_member(
        services: Services, loyalty_api: Api, store_api: Api, jane: dict[str, Any],
        jane_api: Api) -> None:
    grant(jane_api, "marketing.email")  # granted, never withdrawn: nothing to suppress
    erased(services, jane["id"])
    again = register(loyalty_api)
    assert again["errors"] == []
    assert member_row(services, again["member"]["id"]).marketing_suppressed_at is None
    assert record(store_api, again["member"]["memberNumber"])["errors"] == []


def test_an_email_changed_to_a_suppressed_address_is_marked(
        http: TestClient, services: Services, settings: Settings, loyalty_api: Api,
        store_api: Api, jane: dict[str, Any], jane_api: Api) -> None:
    withdraw(jane_api, "marketing.sms")  # an opt-out recorded without a grant
    erased(services, jane["id"])
    otto = register(loyalty_api, email="otto@example.org", phone="07400550123")["member"]
    otto_api = signed_in(http, settings, "otto@example.org")
    changed = otto_api.graphql("""mutation($input: UpdateProfileInput!) {
      updateMyProfile(input: $input) { errors { code } } }""",
                               {"input": {"email": JANE["email"]}})
    assert changed["data"]["updateMyProfile"]["errors"] == []
    assert member_row(services, otto["id"]).marketing_suppressed_at is not None
    assert record(store_api, otto["memberNumber"], "marketing.sms")["errors"] == [
        {"field": "purpose", "code": "MARKETING_SUPPRESSED"}]
    # The member's own grant works at once, and is the member's.
    result = otto_api.graphql(GRANT, {"p": "marketing.sms", "v": 1})
    assert result["data"]["grantConsent"]["errors"] == []
