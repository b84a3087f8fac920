"""What issue 3 must show: purpose-bound, consent-gated reads for client services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from audit.models import AccessLogEntry
from tests.conftest import Api, member_token, register

MEMBER_DATA = """
query($purpose: String!, $email: String, $number: String) {
  memberData(purpose: $purpose, email: $email, memberNumber: $number) {
    email givenName phone denied { field reason }
  }
}
"""
AUDIENCE = """
query($purpose: String!, $first: Int!, $after: String) {
  audience(purpose: $purpose, first: $first, after: $after) {
    items { email denied { field reason } } nextCursor
  }
}
"""
GRANT = """mutation($p: String!, $v: Int!) { grantConsent(purpose: $p, noticeVersion: $v) {
  consents { purpose status } receiptIds errors { code } } }"""
WITHDRAW = """mutation($p: String!) { withdrawConsent(purpose: $p) {
  consents { purpose status } receiptIds errors { code } } }"""


def signed_in(http: Any, settings: Any, email: str) -> Api:
    return Api(http, member_token(http, Path(settings.mailbox_file), email))


@pytest.fixture
def people(loyalty_api: Api, http: Any, settings: Any) -> dict[str, Api]:
    """Three members: ann consents to email marketing, bob does not, cy withdrew."""
    result = {}
    for n, name in enumerate(["ann", "bob", "cy"]):
        payload = register(loyalty_api, email=f"{name}@example.org", phone=f"0740012340{n}",
                           givenName=name.title())
        assert payload["errors"] == []
        result[name] = signed_in(http, settings, f"{name}@example.org")
    for name in ("ann", "cy"):
        granted = result[name].graphql(GRANT, {"p": "marketing.email", "v": 1})
        assert granted["data"]["grantConsent"]["errors"] == []
    withdrawn = result["cy"].graphql(WITHDRAW, {"p": "marketing.email"})
    assert withdrawn["data"]["withdrawConsent"]["errors"] == []
    return result


def read(api: Api, email: str, purpose: str = "marketing.email") -> dict[str, Any]:
    result = api.graphql(MEMBER_DATA, {"purpose": purpose, "email": email})
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]["memberData"]
    return data


def test_marketing_reads_only_consenting_members(people: dict[str, Api],
                                                 marketing_api: Api) -> None:
    ann = read(marketing_api, "ann@example.org")
    assert ann["email"] == "ann@example.org" and ann["givenName"] == "Ann"
    assert ann["phone"] is None
    assert ann["denied"] == [{"field": "phone", "reason": "CATEGORY_NOT_IN_PURPOSE"}]

    bob = read(marketing_api, "bob@example.org")
    assert bob["email"] is None and bob["givenName"] is None
    assert {d["field"]: d["reason"] for d in bob["denied"]} == {
        "email": "CONSENT_REQUIRED", "givenName": "CONSENT_REQUIRED",
        "phone": "CATEGORY_NOT_IN_PURPOSE"}

    cy = read(marketing_api, "cy@example.org")
    assert cy["email"] is None
    assert {d["reason"] for d in cy["denied"]} >= {"CONSENT_REQUIRED"}


def test_the_next_read_after_withdrawal_is_denied(people: dict[str, Api],
                                                  marketing_api: Api) -> None:
    assert read(marketing_api, "ann@example.org")["email"] == "ann@example.org"
    people["ann"].graphql(WITHDRAW, {"p": "marketing.email"})
    assert read(marketing_api, "ann@example.org")["email"] is None


def test_the_bulk_audience_is_exactly_the_consenting_members(
        people: dict[str, Api], marketing_api: Api, loyalty_api: Api, http: Any,
        settings: Any) -> None:
    for n in range(5):
        register(loyalty_api, email=f"extra{n}@example.org", phone=f"0740012350{n}")
        if n % 2 == 0:
            signed_in(http, settings, f"extra{n}@example.org").graphql(
                GRANT, {"p": "marketing.email", "v": 1})
    emails: list[str] = []
    after = None
    while True:
        page = marketing_api.graphql(AUDIENCE, {"purpose": "marketing.email", "first": 1,
                                                "after": after})["data"]["audience"]
        emails += [item["email"] for item in page["items"]]
        after = page["nextCursor"]
        if after is None:
            break
    assert sorted(emails) == ["ann@example.org", "extra0@example.org", "extra2@example.org",
                              "extra4@example.org"]


def test_a_non_member_and_a_non_consenting_member_look_the_same(
        people: dict[str, Api], marketing_api: Api) -> None:
    member = marketing_api.graphql(MEMBER_DATA, {"purpose": "marketing.email",
                                                 "email": "bob@example.org"})
    stranger = marketing_api.graphql(MEMBER_DATA, {"purpose": "marketing.email",
                                                   "email": "nobody@example.org"})
    malformed = marketing_api.graphql(MEMBER_DATA, {"purpose": "marketing.email",
                                                    "email": "not an email"})
    assert member == stranger == malformed


def test_a_client_cannot_declare_a_purpose_it_is_not_registered_for(
        people: dict[str, Api], marketing_api: Api) -> None:
    result = marketing_api.graphql(MEMBER_DATA, {"purpose": "loyalty.membership",
                                                 "email": "ann@example.org"})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_PERMITTED"


def test_every_read_is_logged_with_fields_and_reasons_but_no_values(
        people: dict[str, Api], marketing_api: Api, services: Any) -> None:
    read(marketing_api, "ann@example.org")
    read(marketing_api, "bob@example.org")
    read(marketing_api, "nobody@example.org")  # no member: nothing to log against
    with services.db.unit_of_work() as uow:
        entries = uow.session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.principal == "client:email-marketing")
            .order_by(AccessLogEntry.sequence)).all()
    assert [(e.principal, e.purpose) for e in entries] == [
        ("client:email-marketing", "marketing.email")] * 2
    assert entries[0].fields_returned == ["email", "given_name"]
    assert entries[0].fields_denied == {"phone": "CATEGORY_NOT_IN_PURPOSE"}
    assert entries[1].fields_returned == []
    assert entries[1].fields_denied["email"] == "CONSENT_REQUIRED"
    assert "ann@example.org" not in str([vars(e) for e in entries])


def test_members_see_who_read_their_data(people: dict[str, Api], marketing_api: Api) -> None:
    read(marketing_api, "ann@example.org")
    log = people["ann"].graphql("{ myAccessLog { items { principal purpose fieldsReturned } } }")
    items = log["data"]["myAccessLog"]["items"]
    assert items[-1]["principal"] == "client:loyalty-engine"  # the registration answer
    assert items[:-1] == [
        {"principal": "client:email-marketing", "purpose": "marketing.email",
         "fieldsReturned": ["email", "given_name"]}]
    bob = people["bob"].graphql("{ myAccessLog { items { principal } } }")
    assert bob["data"]["myAccessLog"]["items"] == [{"principal": "client:loyalty-engine"}]


def test_a_lookup_key_outside_the_purpose_is_refused(people: dict[str, Api], http: Any,
                                                     services: Any) -> None:
    from tests.conftest import client_token, create_principal

    analytics = Api(http, client_token(http, "analytics-job", create_principal(
        services, "analytics-job", purposes=("analytics.segmentation",))))
    result = analytics.graphql(MEMBER_DATA, {"purpose": "analytics.segmentation",
                                             "email": "ann@example.org"})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "LOOKUP_KEY_NOT_IN_PURPOSE"
    assert "ann@" not in str(result)
