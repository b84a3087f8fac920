"""The restriction and objection use cases of consent.service: restriction of processing
(GDPR Art. 18) and objection (Art. 21), by the member or, for restriction, by an officer
with a reason on the audit trail; end to end through the GraphQL API."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from audit.models import AuditEvent
from tests.conftest import Api, client_token, create_principal
from tests.consent.support import AUDIENCE, MEMBER_DATA, MY_CONSENTS, grant, new_member
from vaultkernel.settings import Settings

STATUS = "status { restricted objectedPurposes } errors { field code }"
RESTRICT = f"mutation {{ restrictMyProcessing {{ {STATUS} }} }}"
LIFT = f"mutation {{ liftMyRestriction {{ {STATUS} }} }}"
OBJECT = f"mutation($p: String!) {{ objectToPurpose(purpose: $p) {{ {STATUS} }} }}"
UNOBJECT = f"mutation($p: String!) {{ withdrawObjection(purpose: $p) {{ {STATUS} }} }}"
MY_STATUS = "{ myProcessingStatus { restricted objectedPurposes } }"
OFFICER_RESTRICT = f"""mutation($id: ID!, $r: Boolean!, $why: String!) {{
  setProcessingRestriction(memberId: $id, restricted: $r, reason: $why) {{ {STATUS} }} }}"""
ANALYTICS = "analytics.segmentation"


@pytest.fixture
def consenting(member: tuple[Api, dict[str, Any]]) -> tuple[Api, dict[str, Any]]:
    """The member, having consented to email marketing."""
    grant(member[0], "marketing.email")
    return member


@pytest.fixture
def bystander(loyalty_api: Api, http: TestClient, settings: Settings) -> dict[str, Any]:
    """Another consenting member, so an audience is never trivially empty."""
    api, profile = new_member(loyalty_api, http, settings, "bystander", 2)
    grant(api, "marketing.email")
    return profile


@pytest.fixture
def analytics_api(http: TestClient, services: Any) -> Api:
    secret = create_principal(services, "analytics-job", purposes=(ANALYTICS,))
    return Api(http, client_token(http, "analytics-job", secret))


def read(api: Api, purpose: str, number: str) -> dict[str, Any]:
    result = api.graphql(MEMBER_DATA, {"purpose": purpose, "number": number})
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]["memberData"]
    return data


def reasons(data: dict[str, Any]) -> dict[str, str]:
    return {d["field"]: d["reason"] for d in data["denied"]}


def audience(api: Api, purpose: str) -> list[str]:
    numbers: list[str] = []
    after = None
    while True:
        page = api.graphql(AUDIENCE, {"purpose": purpose, "first": 1, "after": after})
        numbers += [i["memberNumber"] or i["email"] for i in page["data"]["audience"]["items"]]
        after = page["data"]["audience"]["nextCursor"]
        if after is None:
            return numbers


def processing(api: Api, mutation: str, **variables: Any) -> dict[str, Any]:
    payload: dict[str, Any] = next(iter(api.graphql(mutation, variables)["data"].values()))
    return payload


def test_a_restricted_member_is_denied_even_for_a_purpose_they_consented_to(
        consenting: tuple[Api, dict[str, Any]], bystander: dict[str, Any], marketing_api: Api,
        loyalty_api: Api) -> None:
    api, profile = consenting
    number = profile["memberNumber"]
    assert read(marketing_api, "marketing.email", number)["email"] == "quillon@example.org"
    assert sorted(audience(marketing_api, "marketing.email")) == [
        "bystander@example.org", "quillon@example.org"]

    restricted = processing(api, RESTRICT)
    assert restricted == {"status": {"restricted": True, "objectedPurposes": []}, "errors": []}
    assert api.graphql(MY_STATUS)["data"]["myProcessingStatus"]["restricted"] is True

    data = read(marketing_api, "marketing.email", number)
    assert data["email"] is None and data["givenName"] is None
    assert reasons(data) == {"email": "PROCESSING_RESTRICTED",
                             "givenName": "PROCESSING_RESTRICTED",
                             "memberNumber": "CATEGORY_NOT_IN_PURPOSE",
                             "birthdate": "CATEGORY_NOT_IN_PURPOSE"}
    assert audience(marketing_api, "marketing.email") == ["bystander@example.org"]
    # A restriction covers every purpose, the contractual one too.
    membership = read(loyalty_api, "loyalty.membership", number)
    assert membership["email"] is None
    assert reasons(membership)["email"] == "PROCESSING_RESTRICTED"
    # and it is still a consent the member gave: the overview says so
    overview = {i["purpose"]: i["status"] for i in api.graphql(MY_CONSENTS)["data"]["myConsents"]}
    assert overview["marketing.email"] == "GRANTED"

    assert processing(api, RESTRICT)["errors"] == []  # restricting twice is harmless
    lifted = processing(api, LIFT)
    assert lifted == {"status": {"restricted": False, "objectedPurposes": []}, "errors": []}
    assert read(marketing_api, "marketing.email", number)["email"] == "quillon@example.org"
    assert sorted(audience(marketing_api, "marketing.email")) == [
        "bystander@example.org", "quillon@example.org"]


def audit_events(services: Any) -> list[AuditEvent]:
    with services.db.unit_of_work() as uow:
        return list(uow.session.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(["member.restricted", "member.restriction_lifted"]))
            .order_by(AuditEvent.id)))


def test_an_officer_restricts_with_a_reason_that_goes_to_the_audit_trail(
        consenting: tuple[Api, dict[str, Any]], officer_api: Api, marketing_api: Api,
        services: Any) -> None:
    api, profile = consenting
    payload = processing(officer_api, OFFICER_RESTRICT, id=profile["id"], r=True,
                         why="  accuracy contested by phone, ticket 4411 ")
    assert payload == {"status": {"restricted": True, "objectedPurposes": []}, "errors": []}
    assert api.graphql(MY_STATUS)["data"]["myProcessingStatus"]["restricted"] is True
    assert reasons(read(marketing_api, "marketing.email", profile["memberNumber"]))[
        "email"] == "PROCESSING_RESTRICTED"

    [event] = audit_events(services)
    assert (event.action, event.actor, str(event.member_id)) == (
        "member.restricted", "officer:officer-otto", profile["id"])
    assert event.details == {"reason": "accuracy contested by phone, ticket 4411"}

    # Restricting again changes nothing and records nothing.
    processing(officer_api, OFFICER_RESTRICT, id=profile["id"], r=True, why="again")
    assert len(audit_events(services)) == 1

    lifted = processing(officer_api, OFFICER_RESTRICT, id=profile["id"], r=False,
                        why="accuracy verified")
    assert lifted["status"]["restricted"] is False
    assert [(e.action, e.details) for e in audit_events(services)] == [
        ("member.restricted", {"reason": "accuracy contested by phone, ticket 4411"}),
        ("member.restriction_lifted", {"reason": "accuracy verified"})]
    assert read(marketing_api, "marketing.email", profile["memberNumber"])["email"] == (
        "quillon@example.org")


@pytest.mark.parametrize("why", ["", "   ", "x" * 501])
def test_an_officer_must_give_a_reason(consenting: tuple[Api, dict[str, Any]], officer_api: Api,
                                       services: Any, why: str) -> None:
    api, profile = consenting
    payload = processing(officer_api, OFFICER_RESTRICT, id=profile["id"], r=True, why=why)
    assert payload == {"status": None, "errors": [{"field": "reason", "code": "REASON_REQUIRED"}]}
    assert api.graphql(MY_STATUS)["data"]["myProcessingStatus"]["restricted"] is False
    assert audit_events(services) == []


def test_the_reason_argument_is_required(consenting: tuple[Api, dict[str, Any]],
                                         officer_api: Api) -> None:
    _, profile = consenting
    result = officer_api.graphql(
        "mutation($id: ID!) { setProcessingRestriction(memberId: $id, restricted: true) "
        "{ errors { code } } }", {"id": profile["id"]})
    assert result["data"] is None and "reason" in result["errors"][0]["message"]


def test_an_officer_restricting_an_unknown_member(officer_api: Api) -> None:
    unknown = processing(officer_api, OFFICER_RESTRICT, id="00000000-0000-4000-8000-000000000000",
                         r=True, why="test")
    assert unknown == {"status": None, "errors": [{"field": None, "code": "MEMBER_NOT_FOUND"}]}
    malformed = officer_api.graphql(OFFICER_RESTRICT, {"id": "1234", "r": True, "why": "test"})
    assert malformed["errors"][0]["extensions"]["code"] == "INVALID_MEMBER_ID"


def test_only_officers_restrict_on_a_members_behalf(
        consenting: tuple[Api, dict[str, Any]], marketing_api: Api) -> None:
    api, profile = consenting
    for caller in (api, marketing_api):
        result = caller.graphql(OFFICER_RESTRICT, {"id": profile["id"], "r": True, "why": "x"})
        assert result["data"] is None
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert api.graphql(MY_STATUS)["data"]["myProcessingStatus"]["restricted"] is False


def test_objecting_to_analytics_stops_analytics_and_withdrawing_it_restores(
        consenting: tuple[Api, dict[str, Any]], bystander: dict[str, Any], analytics_api: Api,
        marketing_api: Api) -> None:
    api, profile = consenting
    number = profile["memberNumber"]
    before = read(analytics_api, ANALYTICS, number)
    assert before["memberNumber"] == number and before["birthdate"] == "1990-02-03"
    assert sorted(audience(analytics_api, ANALYTICS)) == sorted(
        [number, bystander["memberNumber"]])

    objected = processing(api, OBJECT, p=ANALYTICS)
    assert objected == {"status": {"restricted": False, "objectedPurposes": [ANALYTICS]},
                        "errors": []}
    data = read(analytics_api, ANALYTICS, number)
    assert data["memberNumber"] is None and data["birthdate"] is None
    assert reasons(data) == {"memberNumber": "OBJECTED", "birthdate": "OBJECTED",
                             "email": "CATEGORY_NOT_IN_PURPOSE",
                             "givenName": "CATEGORY_NOT_IN_PURPOSE"}
    assert audience(analytics_api, ANALYTICS) == [bystander["memberNumber"]]
    overview = {i["purpose"]: i for i in api.graphql(MY_CONSENTS)["data"]["myConsents"]}
    assert overview[ANALYTICS]["objected"] is True
    assert overview["marketing.email"]["objected"] is False
    # Other purposes go on as before.
    assert read(marketing_api, "marketing.email", number)["email"] == "quillon@example.org"
    assert processing(api, OBJECT, p=ANALYTICS)["errors"] == []  # objecting twice is harmless

    restored = processing(api, UNOBJECT, p=ANALYTICS)
    assert restored == {"status": {"restricted": False, "objectedPurposes": []}, "errors": []}
    assert read(analytics_api, ANALYTICS, number)["memberNumber"] == number
    assert sorted(audience(analytics_api, ANALYTICS)) == sorted(
        [number, bystander["memberNumber"]])


@pytest.mark.parametrize("purpose", ["marketing.email", "partners.sharing", "loyalty.membership"])
def test_only_legitimate_interest_purposes_can_be_objected_to(
        consenting: tuple[Api, dict[str, Any]], purpose: str) -> None:
    api, _ = consenting
    for mutation in (OBJECT, UNOBJECT):
        payload = processing(api, mutation, p=purpose)
        assert payload == {"status": None,
                           "errors": [{"field": "purpose", "code": "NOT_OBJECTABLE"}]}
    assert api.graphql(MY_STATUS)["data"]["myProcessingStatus"]["objectedPurposes"] == []


def test_objecting_to_an_unknown_purpose(consenting: tuple[Api, dict[str, Any]]) -> None:
    api, _ = consenting
    payload = processing(api, OBJECT, p="analytics.everything")
    assert payload["errors"] == [{"field": "purpose", "code": "UNKNOWN_PURPOSE"}]
