"""Consent collected on a member's behalf by a registered client (a store till): recorded
with the channel its registration implies and the collecting client as actor, revealing
only the purpose it concerns."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api
from tests.consent.support import (
    MEMBER_DATA,
    MY_HISTORY,
    RECORD,
    collector,
    grant,
    record,
    record_rows,
)

MY_RECEIPT = """query($id: ID!) { myConsentReceipt(receiptId: $id) { receipt } }"""


@pytest.fixture
def store_api(http: TestClient, services: Any) -> Api:
    return collector(http, services, "store-counter", "store")


def test_a_collecting_client_records_a_grant_made_in_store(
        member: tuple[Api, dict[str, Any]], store_api: Api, marketing_api: Api,
        services: Any) -> None:
    api, profile = member
    payload = record(store_api, profile["memberNumber"])
    assert payload["errors"] == []
    assert payload["consents"] == [{"purpose": "marketing.email", "title": "Offers by email",
                                    "status": "GRANTED", "grantedNoticeVersion": 1}]
    [row] = record_rows(services)
    assert (row["purpose"], row["granted"], row["notice_version"], row["channel"],
            row["actor"]) == ("marketing.email", True, 1, "store", "client:store-counter")
    assert str(row["member_id"]) == profile["id"]
    assert str(row["receipt_id"]) == payload["receiptIds"][0]

    history = api.graphql(MY_HISTORY)["data"]["myConsentHistory"]["items"]
    assert [(h["purpose"], h["channel"], h["actor"]) for h in history] == [
        ("marketing.email", "STORE", "client:store-counter")]
    receipt = api.graphql(MY_RECEIPT, {"id": payload["receiptIds"][0]})
    assert receipt["data"]["myConsentReceipt"]["receipt"]["collectionMethod"] == (
        "in store, by staff")
    read = marketing_api.graphql(MEMBER_DATA, {"purpose": "marketing.email",
                                               "number": profile["memberNumber"]})
    assert read["data"]["memberData"]["email"] == "quillon@example.org"


@pytest.mark.parametrize(("kind", "channel"), [("store", "store"), ("app", "app"),
                                               ("partner", "api"), ("loyalty", "api")])
def test_the_channel_follows_the_clients_registration(
        member: tuple[Api, dict[str, Any]], http: TestClient, services: Any, kind: str,
        channel: str) -> None:
    _, profile = member
    api = collector(http, services, f"collector-{kind}", kind)
    assert record(api, profile["memberNumber"])["errors"] == []
    [row] = record_rows(services)
    assert (row["channel"], row["actor"]) == (channel, f"client:collector-{kind}")


def test_a_client_cannot_claim_a_channel(member: tuple[Api, dict[str, Any]],
                                         http: TestClient, services: Any) -> None:
    _, profile = member
    api = collector(http, services, "partner-till", "partner")
    result = api.graphql(RECORD, {"input": {
        "memberNumber": profile["memberNumber"], "purpose": "marketing.email", "granted": True,
        "noticeVersion": 1, "channel": "store"}})
    assert result["data"] is None and "channel" in result["errors"][0]["message"]
    assert record_rows(services) == []


def test_a_withdrawal_needs_no_version_and_numbers_may_be_formatted(
        member: tuple[Api, dict[str, Any]], store_api: Api, services: Any) -> None:
    _, profile = member
    number = profile["memberNumber"]
    formatted = f"{number[:4]} {number[4:8]}-{number[8:]}"
    assert record(store_api, formatted)["errors"] == []
    withdrawn = record(store_api, number, granted=False)
    assert withdrawn["errors"] == []
    assert withdrawn["consents"][0]["status"] == "WITHDRAWN"
    assert [(r["granted"], r["channel"]) for r in record_rows(services)] == [
        (True, "store"), (False, "store")]


def test_the_answer_reveals_only_the_purpose_recorded(
        member: tuple[Api, dict[str, Any]], store_api: Api) -> None:
    api, profile = member
    grant(api, "marketing.sms")
    grant(api, "partners.sharing")
    payload = record(store_api, profile["memberNumber"], purpose="rewards.birthday")
    assert [c["purpose"] for c in payload["consents"]] == ["rewards.birthday"]
    failed = record(store_api, profile["memberNumber"], purpose="marketing.sms",
                    noticeVersion=3)
    assert failed == {"consents": [], "receiptIds": [],
                      "errors": [{"field": "noticeVersion", "code": "NOTICE_OUTDATED"}]}


@pytest.mark.parametrize(("extra", "code"), [
    ({"noticeVersion": None}, "NOTICE_OUTDATED"),
    ({"purpose": "loyalty.membership"}, "NOT_CONSENTABLE"),
    ({"purpose": "no.such.purpose"}, "UNKNOWN_PURPOSE"),
])
def test_the_rules_of_the_ledger_apply(member: tuple[Api, dict[str, Any]], store_api: Api,
                                       services: Any, extra: dict[str, Any], code: str) -> None:
    _, profile = member
    payload = record(store_api, profile["memberNumber"], **extra)
    assert [e["code"] for e in payload["errors"]] == [code]
    assert record_rows(services) == []


def test_a_client_not_registered_to_collect_consent_is_refused(
        member: tuple[Api, dict[str, Any]], marketing_api: Api, http: TestClient,
        services: Any) -> None:
    _, profile = member
    # neither a client of another kind, nor a store client without the registration
    for api in (marketing_api, collector(http, services, "kiosk", "store", False)):
        result = api.graphql(RECORD, {"input": {
            "memberNumber": profile["memberNumber"], "purpose": "marketing.email",
            "granted": True, "noticeVersion": 1}})
        assert result["data"] is None
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert record_rows(services) == []


def test_a_collected_sharing_grant_under_gpc_is_a_conflict(
        member: tuple[Api, dict[str, Any]], store_api: Api, services: Any) -> None:
    _, profile = member
    values = {"memberNumber": profile["memberNumber"], "purpose": "partners.sharing",
              "granted": True, "noticeVersion": 1}
    result = store_api.graphql(RECORD, {"input": values}, **{"sec-gpc": "1"})
    assert result["data"]["recordMemberConsent"]["errors"] == [
        {"field": "purpose", "code": "GPC_CONFLICT"}]
    assert record_rows(services) == []


def test_members_cannot_record_for_others(member: tuple[Api, dict[str, Any]],
                                          services: Any) -> None:
    api, profile = member
    result = api.graphql(RECORD, {"input": {
        "memberNumber": profile["memberNumber"], "purpose": "marketing.email", "granted": True,
        "noticeVersion": 1}})
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert record_rows(services) == []


@pytest.mark.parametrize("number", ["100000000008", "100000000009", "12345", "not a number"])
def test_an_unknown_member_number_is_reported(store_api: Api, services: Any,
                                              number: str) -> None:
    payload = record(store_api, number)
    assert payload == {"consents": [], "receiptIds": [],
                       "errors": [{"field": "memberNumber", "code": "MEMBER_NOT_FOUND"}]}
    assert record_rows(services) == []
