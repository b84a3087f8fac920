"""Officers audit the access log: filters, opaque cursors bound to who asked, the hash
chain check; nobody else reaches officer fields. Audience cursors are bound likewise."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from audit.models import AccessLogEntry
from tests.conftest import Api, client_token, create_principal
from tests.consent.support import AUDIENCE, MEMBER_DATA, grant, new_member
from vaultkernel.settings import Settings

LOG = """query($filter: AccessLogFilter, $first: Int!, $after: String) {
  accessLog(filter: $filter, first: $first, after: $after) {
    items { sequence at principal purpose memberId fieldsReturned fieldsDenied { field reason } }
    nextCursor } }"""
MY_LOG = """query($first: Int!) { myAccessLog(first: $first) { items { sequence } nextCursor } }"""
VERIFY = "{ verifyAccessLog { ok checked firstBrokenSequence problem } }"


def officer(http: TestClient, services: Any, name: str) -> Api:
    return Api(http, client_token(http, name, create_principal(services, name, "officer")))


@pytest.fixture
def officer_api(http: TestClient, services: Any) -> Api:
    return officer(http, services, "officer-ines")


@pytest.fixture
def people(loyalty_api: Api, marketing_api: Api, http: TestClient,
           settings: Settings) -> dict[str, tuple[Api, dict[str, Any]]]:
    """Three members registered (three log entries by the loyalty engine), two consenting
    to email marketing; the marketing tool then reads each of them once."""
    result = {name: new_member(loyalty_api, http, settings, name, n)
              for n, name in enumerate(["ann", "bob", "cy"])}
    for name in ("ann", "cy"):
        grant(result[name][0], "marketing.email")
        grant(result[name][0], "marketing.sms")
    for _, profile in result.values():
        marketing_api.graphql(MEMBER_DATA, {"purpose": "marketing.email",
                                            "number": profile["memberNumber"]})
    return result


def log(api: Api, first: int = 50, after: str | None = None,
        **flt: Any) -> dict[str, Any]:
    result = api.graphql(LOG, {"filter": flt or None, "first": first, "after": after})
    assert "errors" not in result, result
    page: dict[str, Any] = result["data"]["accessLog"]
    return page


def error_code(result: dict[str, Any]) -> str:
    assert result["data"] is None, result
    code: str = result["errors"][0]["extensions"]["code"]
    return code


def test_the_whole_log_newest_first(people: dict[str, Any], officer_api: Api,
                                    services: Any) -> None:
    items = log(officer_api)["items"]
    assert len(items) == 6
    assert [i["sequence"] for i in items] == [6, 5, 4, 3, 2, 1]
    assert [i["principal"] for i in items] == ["client:email-marketing"] * 3 + [
        "client:loyalty-engine"] * 3
    ann = people["ann"][1]
    newest_ann = next(i for i in items if i["memberId"] == ann["id"])
    assert newest_ann["fieldsReturned"] == ["email", "given_name"]
    assert newest_ann["fieldsDenied"] == [
        {"field": "birthdate", "reason": "CATEGORY_NOT_IN_PURPOSE"},
        {"field": "member_number", "reason": "CATEGORY_NOT_IN_PURPOSE"}]
    assert "ann@example.org" not in str(items)


def test_filters(people: dict[str, Any], officer_api: Api) -> None:
    everything = log(officer_api)["items"]
    by_principal = log(officer_api, principal="client:loyalty-engine")["items"]
    assert [i["sequence"] for i in by_principal] == [3, 2, 1]
    by_purpose = log(officer_api, purpose="marketing.email")["items"]
    assert [i["sequence"] for i in by_purpose] == [6, 5, 4]
    bob = people["bob"][1]["id"]
    by_member = log(officer_api, memberId=bob)["items"]
    assert {i["memberId"] for i in by_member} == {bob} and len(by_member) == 2
    both = log(officer_api, memberId=bob, purpose="marketing.email")["items"]
    assert len(both) == 1 and both[0]["fieldsReturned"] == []
    assert log(officer_api, principal="client:nobody")["items"] == []

    # time window: the reads came after the registrations
    first_read_at = min(i["at"] for i in by_purpose)
    since = log(officer_api, since=first_read_at)["items"]
    assert [i["sequence"] for i in since] == [6, 5, 4]
    until = log(officer_api, until=first_read_at)["items"]
    assert [i["sequence"] for i in until] == [3, 2, 1]
    assert len(since) + len(until) == len(everything)
    window = log(officer_api, since=min(i["at"] for i in everything), until=first_read_at,
                 principal="client:loyalty-engine", memberId=bob)["items"]
    assert len(window) == 1 and window[0]["memberId"] == bob


def walk(api: Api, first: int, **flt: Any) -> list[int]:
    sequences: list[int] = []
    after = None
    for _ in range(50):
        page = log(api, first, after, **flt)
        assert len(page["items"]) <= first
        sequences += [i["sequence"] for i in page["items"]]
        after = page["nextCursor"]
        if after is None:
            return sequences
    raise AssertionError("pagination did not end")


def test_pagination_walks_every_entry_once(people: dict[str, Any], officer_api: Api) -> None:
    assert walk(officer_api, 1) == walk(officer_api, 4) == walk(officer_api, 200) == [
        6, 5, 4, 3, 2, 1]
    assert walk(officer_api, 2, purpose="marketing.email") == [6, 5, 4]


def test_a_cursor_is_opaque(people: dict[str, Any], officer_api: Api) -> None:
    cursor = log(officer_api, first=2)["nextCursor"]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert (4).to_bytes(8, "big") not in raw  # sealed, not merely encoded
    assert log(officer_api, first=2)["nextCursor"] != cursor  # fresh nonce each time


def test_a_cursor_works_only_for_the_officer_it_was_given_to(
        people: dict[str, Any], officer_api: Api, http: TestClient, services: Any) -> None:
    cursor = log(officer_api, first=2)["nextCursor"]
    assert [i["sequence"] for i in log(officer_api, first=2, after=cursor)["items"]] == [4, 3]
    other = officer(http, services, "officer-jon")
    result = other.graphql(LOG, {"first": 2, "after": cursor})
    assert error_code(result) == "INVALID_CURSOR"
    # nor does a member's own access-log cursor work for an officer, or the other way round
    member_cursor = people["ann"][0].graphql(MY_LOG, {"first": 1})["data"]["myAccessLog"][
        "nextCursor"]
    assert member_cursor is not None
    assert error_code(officer_api.graphql(LOG, {"first": 2, "after": member_cursor})) == (
        "INVALID_CURSOR")
    member_result = people["ann"][0].graphql(
        "query($a: String) { myAccessLog(first: 1, after: $a) { nextCursor } }", {"a": cursor})
    assert member_result["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


@pytest.mark.parametrize("tamper", [
    lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),
    lambda c: c[:10] + ("A" if c[10] != "A" else "B") + c[11:],
    lambda c: c[:-4],
    lambda c: base64.urlsafe_b64encode((7).to_bytes(8, "big")).decode(),
    lambda c: "not a cursor!",
])
def test_a_tampered_cursor_is_refused(people: dict[str, Any], officer_api: Api,
                                      tamper: Any) -> None:
    cursor = log(officer_api, first=2)["nextCursor"]
    result = officer_api.graphql(LOG, {"first": 2, "after": tamper(cursor)})
    assert error_code(result) == "INVALID_CURSOR"


@pytest.mark.parametrize("first", [0, -1, 201])
def test_the_log_page_size_is_bounded(people: dict[str, Any], officer_api: Api,
                                      first: int) -> None:
    assert error_code(officer_api.graphql(LOG, {"first": first})) == "INVALID_PAGE_SIZE"


@pytest.mark.parametrize("bound", ["since", "until"])
@pytest.mark.parametrize("value", ["2020-01-01T00:00:00", "2020-01-01"])
def test_a_time_without_an_offset_is_refused_not_an_internal_error(
        people: dict[str, Any], officer_api: Api, bound: str, value: str) -> None:
    result = officer_api.graphql(LOG, {"filter": {bound: value}, "first": 5})
    assert error_code(result) == "INVALID_DATETIME"
    assert len(log(officer_api, **{bound: "2020-01-01T00:00:00+02:00"})["items"]) == (
        6 if bound == "since" else 0)


def test_a_malformed_member_id_filter_is_refused(officer_api: Api) -> None:
    result = officer_api.graphql(LOG, {"filter": {"memberId": "ann"}, "first": 5})
    assert error_code(result) == "INVALID_MEMBER_ID"


def test_verify_access_log(people: dict[str, Any], officer_api: Api, admin_api: Api,
                           services: Any) -> None:
    with services.db.unit_of_work() as uow:
        total = uow.session.scalar(select(func.count()).select_from(AccessLogEntry))
    assert total == 6
    for api in (officer_api, admin_api):
        result = api.graphql(VERIFY)
        assert result["data"]["verifyAccessLog"] == {
            "ok": True, "checked": total, "firstBrokenSequence": None, "problem": None}


OFFICER_FIELDS = [
    ("{ accessLog { items { sequence } } }", "accessLog"),
    (VERIFY, "verifyAccessLog"),
    ('{ consentHistory(memberId: "00000000-0000-4000-8000-000000000000") { purpose } }',
     "consentHistory"),
    ('{ consentReceipt(receiptId: "00000000-0000-4000-8000-000000000000") { jws } }',
     "consentReceipt"),
    ('mutation { setProcessingRestriction(memberId: "00000000-0000-4000-8000-000000000000", '
     'restricted: true, reason: "x") { errors { code } } }', "setProcessingRestriction"),
]


@pytest.mark.parametrize(("query", "field"), OFFICER_FIELDS)
def test_members_and_clients_cannot_reach_officer_fields(
        people: dict[str, Any], marketing_api: Api, http: TestClient, query: str,
        field: str) -> None:
    for caller in (people["ann"][0], marketing_api):
        result = caller.graphql(query)
        assert (result["data"] or {}).get(field) is None
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = Api(http).graphql(query)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.fixture
def two_purpose_api(http: TestClient, services: Any) -> Api:
    secret = create_principal(services, "campaigns", purposes=("marketing.email",
                                                               "marketing.sms"))
    return Api(http, client_token(http, "campaigns", secret))


def audience(api: Api, purpose: str, first: int, after: str | None = None) -> dict[str, Any]:
    return api.graphql(AUDIENCE, {"purpose": purpose, "first": first, "after": after})


def test_audience_cursors_are_bound_to_the_client_and_the_purpose(
        people: dict[str, Any], marketing_api: Api, two_purpose_api: Api) -> None:
    page = audience(marketing_api, "marketing.email", 1)["data"]["audience"]
    cursor = page["nextCursor"]
    assert cursor is not None
    following = audience(marketing_api, "marketing.email", 1, cursor)["data"]["audience"]
    assert {page["items"][0]["email"], following["items"][0]["email"]} == {
        "ann@example.org", "cy@example.org"}

    # another client, allowed the same purpose
    assert error_code(audience(two_purpose_api, "marketing.email", 1, cursor)) == (
        "INVALID_CURSOR")
    # the same client, another purpose
    own = audience(two_purpose_api, "marketing.email", 1)["data"]["audience"]["nextCursor"]
    assert audience(two_purpose_api, "marketing.email", 1, own)["data"] is not None
    assert error_code(audience(two_purpose_api, "marketing.sms", 1, own)) == "INVALID_CURSOR"
    # a tampered one
    tampered = cursor[:-2] + ("xx" if cursor[-2:] != "xx" else "yy")
    assert error_code(audience(marketing_api, "marketing.email", 1, tampered)) == (
        "INVALID_CURSOR")


@pytest.mark.parametrize("first", [0, -5, 1001])
def test_audience_page_size_is_bounded(people: dict[str, Any], marketing_api: Api,
                                       first: int) -> None:
    assert error_code(audience(marketing_api, "marketing.email", first)) == "INVALID_PAGE_SIZE"


def test_audience_accepts_the_largest_page(people: dict[str, Any], marketing_api: Api) -> None:
    page = audience(marketing_api, "marketing.email", 1000)["data"]["audience"]
    assert sorted(i["email"] for i in page["items"]) == ["ann@example.org", "cy@example.org"]
    assert page["nextCursor"] is None
