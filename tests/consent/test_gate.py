"""Gated reads (consent.gate): purpose-bound, consent-gated reads for client services
(memberData, audience) and bulk consent checks by member number (consentCheck): an answer
per number that never reveals who is a member, a bounded size, a bounded cost, and an
access-log entry per existing member."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from identity import member_number
from identity.clients import ActiveClients
from tests.audit.support import Logged, entries, logged
from tests.conftest import Api, client_token, create_principal, register
from tests.consent.support import (
    AUDIENCE,
    CONSENT_CHECK,
    MEMBER_DATA_BY_EMAIL,
    grant,
    new_member,
    signed_in,
    withdraw,
)
from vaultkernel.settings import Settings


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
        grant(result[name], "marketing.email")
    withdraw(result["cy"], "marketing.email")
    return result


def read(api: Api, email: str, purpose: str = "marketing.email") -> dict[str, Any]:
    result = api.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": purpose, "email": email})
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
    withdraw(people["ann"], "marketing.email")
    assert read(marketing_api, "ann@example.org")["email"] is None


def test_the_bulk_audience_is_exactly_the_consenting_members(
        people: dict[str, Api], marketing_api: Api, loyalty_api: Api, http: Any,
        settings: Any) -> None:
    for n in range(5):
        register(loyalty_api, email=f"extra{n}@example.org", phone=f"0740012350{n}")
        if n % 2 == 0:
            grant(signed_in(http, settings, f"extra{n}@example.org"), "marketing.email")
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
    member = marketing_api.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": "marketing.email",
                                                 "email": "bob@example.org"})
    stranger = marketing_api.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": "marketing.email",
                                                   "email": "nobody@example.org"})
    malformed = marketing_api.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": "marketing.email",
                                                    "email": "not an email"})
    assert member == stranger == malformed


def test_a_client_cannot_declare_a_purpose_it_is_not_registered_for(
        people: dict[str, Api], marketing_api: Api) -> None:
    result = marketing_api.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": "loyalty.membership",
                                                 "email": "ann@example.org"})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_PERMITTED"


def test_every_read_is_logged_with_fields_and_reasons_but_no_values(
        people: dict[str, Api], marketing_api: Api, services: Any) -> None:
    read(marketing_api, "ann@example.org")
    read(marketing_api, "bob@example.org")
    read(marketing_api, "nobody@example.org")  # no member: nothing to log against
    entries = logged(services, "client:email-marketing")
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
    analytics = Api(http, client_token(http, "analytics-job", create_principal(
        services, "analytics-job", purposes=("analytics.segmentation",))))
    result = analytics.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": "analytics.segmentation",
                                             "email": "ann@example.org"})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "LOOKUP_KEY_NOT_IN_PURPOSE"
    assert "ann@" not in str(result)


# -- consentCheck: bulk checks by member number -------------------------------------------


FIELD = "consent:marketing.email"


@pytest.fixture
def numbers(loyalty_api: Api, http: TestClient, settings: Settings) -> dict[str, str]:
    """ann consents to email marketing, bob never did, cy withdrew."""
    result = {}
    for n, name in enumerate(["ann", "bob", "cy"]):
        api, profile = new_member(loyalty_api, http, settings, name, n)
        result[name] = profile["memberNumber"]
        if name != "bob":
            grant(api, "marketing.email")
        if name == "cy":
            withdraw(api, "marketing.email")
    return result


def check(api: Api, numbers: list[str], purpose: str = "marketing.email") -> list[dict[str, Any]]:
    result = api.graphql(CONSENT_CHECK, {"purpose": purpose, "numbers": numbers})
    assert "errors" not in result, result
    answers: list[dict[str, Any]] = result["data"]["consentCheck"]
    return answers


def unknown_numbers(count: int, taken: set[str]) -> list[str]:
    """Well-formed member numbers (valid check digit) that belong to nobody here."""
    found: set[str] = set()
    while len(found) < count:
        number = member_number.generate()
        if number not in taken:
            found.add(number)
    return sorted(found)


def log_entries(services: Any) -> list[Logged]:
    return logged(services, "client:email-marketing")


def test_each_number_gets_an_answer(numbers: dict[str, str], marketing_api: Api) -> None:
    [stranger] = unknown_numbers(1, set(numbers.values()))
    asked = [numbers["ann"], numbers["bob"], numbers["cy"], stranger, "12345", "not-a-number",
             numbers["ann"][:-1] + str((int(numbers["ann"][-1]) + 1) % 10)]
    answers = check(marketing_api, asked)
    assert [a["memberNumber"] for a in answers] == asked
    by_number = {a["memberNumber"]: (a["permitted"], a["reason"]) for a in answers}
    assert by_number[numbers["ann"]] == (True, None)
    refused = (False, "CONSENT_REQUIRED")
    assert [by_number[n] for n in asked[1:]] == [refused] * 6


def test_unknown_and_malformed_numbers_look_like_a_member_without_consent(
        numbers: dict[str, str], marketing_api: Api) -> None:
    [stranger] = unknown_numbers(1, set(numbers.values()))

    def answer(number: str) -> dict[str, Any]:
        [one] = check(marketing_api, [number])
        return {k: v for k, v in one.items() if k != "memberNumber"}

    assert answer(numbers["bob"]) == answer(numbers["cy"]) == answer(stranger) == answer(
        "0000") == answer("") == answer("ᛒᛒᛒᛒᛒᛒᛒᛒᛒᛒᛒᛒ")


def test_only_existing_members_get_access_log_entries(numbers: dict[str, str],
                                                      marketing_api: Api,
                                                      services: Any) -> None:
    strangers = unknown_numbers(5, set(numbers.values()))
    check(marketing_api, [*strangers, numbers["ann"], "junk", numbers["bob"], numbers["cy"]])
    entries = log_entries(services)
    member_ids = {e.member_id for e in entries}
    assert len(entries) == len(member_ids) == 3
    by_returned = sorted((e.fields_returned, e.fields_denied) for e in entries)
    assert by_returned == [([], {FIELD: "CONSENT_REQUIRED"}), ([], {FIELD: "CONSENT_REQUIRED"}),
                           ([FIELD], {})]
    assert {e.purpose for e in entries} == {"marketing.email"}
    check(marketing_api, strangers)
    assert len(log_entries(services)) == 3


def test_a_client_checks_only_purposes_it_may_declare(numbers: dict[str, str],
                                                      marketing_api: Api) -> None:
    result = marketing_api.graphql(CONSENT_CHECK, {"purpose": "partners.sharing",
                                           "numbers": [numbers["ann"]]})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_PERMITTED"


def test_at_most_ten_thousand_numbers_per_call(numbers: dict[str, str], marketing_api: Api,
                                               services: Any) -> None:
    many = unknown_numbers(10_000, set(numbers.values()))
    answers = check(marketing_api, [*many[:-1], numbers["ann"]])
    assert len(answers) == 10_000 and answers[-1]["permitted"] is True
    result = marketing_api.graphql(CONSENT_CHECK, {"purpose": "marketing.email",
                                           "numbers": [*many, numbers["ann"]]})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "TOO_MANY"
    assert len(log_entries(services)) == 1  # the refused call read and logged nothing
    assert len(entries(services, "client:email-marketing")) == 1


@pytest.fixture
def statements(services: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL statement sent to the database while the list is being watched."""
    # The client-enabled check is cached for seconds; keep it cached for the whole test.
    monkeypatch.setattr(services, "active_clients", ActiveClients(services.db, ttl=3600))
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(services.db.engine, "before_cursor_execute", count)


def test_the_cost_does_not_grow_with_the_number_of_numbers_beyond_chunking(
        numbers: dict[str, str], marketing_api: Api, services: Any,
        statements: list[str]) -> None:
    strangers = unknown_numbers(2_000, set(numbers.values()))
    members = list(numbers.values())

    def cost(count: int) -> int:
        statements.clear()
        answers = check(marketing_api, [*members, *strangers[:count - len(members)]])
        assert len(answers) == count
        return len(statements)

    cost(10)  # warm-up: token key, registration look-ups
    small, large = cost(200), cost(2_000)
    # 200 numbers fit in one chunk of 1000, 2000 need two: one more statement at most.
    assert large - small <= 1, statements
    assert large <= 8, statements
    calls = entries(services, "client:email-marketing")
    assert [c.members for c in calls] == [3, 3, 3]  # three calls, three existing members each
