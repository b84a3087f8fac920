"""Global Privacy Control (design rule 3): ``Sec-GPC: 1`` is recorded and applied as an
opt-out of every sale/sharing purpose, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api, client_token, create_principal
from tests.consent.support import (
    MEMBER_DATA,
    MY_CONSENTS,
    MY_HISTORY,
    change,
    grant,
    record_rows,
)

SHARING = "partners.sharing"
GPC = {"sec-gpc": "1"}
ANY_QUERY = "{ myProcessingStatus { restricted } }"


@pytest.fixture
def partner_api(http: TestClient, services: Any) -> Api:
    secret = create_principal(services, "partner-brand", purposes=(SHARING,))
    return Api(http, client_token(http, "partner-brand", secret))


def partner_read(partner: Api, number: str) -> dict[str, Any]:
    result = partner.graphql(MEMBER_DATA, {"purpose": SHARING, "number": number})
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]["memberData"]
    return data


def statuses(api: Api, **headers: str) -> dict[str, str]:
    return {i["purpose"]: i["status"]
            for i in api.graphql(MY_CONSENTS, **headers)["data"]["myConsents"]}


def test_gpc_withdraws_a_granted_sharing_purpose_and_the_next_read_is_denied(
        member: tuple[Api, dict[str, Any]], partner_api: Api, services: Any) -> None:
    api, profile = member
    grant(api, SHARING)
    assert partner_read(partner_api, profile["memberNumber"])["email"] == "quillon@example.org"

    result = api.graphql(ANY_QUERY, **GPC)
    assert "errors" not in result, result

    rows = record_rows(services)
    assert len(rows) == 2
    opt_out = rows[-1]
    assert (opt_out["purpose"], opt_out["granted"], opt_out["channel"], opt_out["actor"]) == (
        SHARING, False, "web", f"member:{profile['id']}")
    assert opt_out["evidence"]["gpc"] is True and rows[0]["evidence"]["gpc"] is False

    denied = partner_read(partner_api, profile["memberNumber"])
    assert denied["email"] is None and denied["givenName"] is None
    assert denied["memberNumber"] is None
    assert {d["reason"] for d in denied["denied"]
            if d["field"] != "birthdate"} == {"CONSENT_REQUIRED"}
    assert statuses(api)[SHARING] == "WITHDRAWN"
    history = api.graphql(MY_HISTORY)["data"]["myConsentHistory"]["items"]
    assert [(h["purpose"], h["granted"], h["gpc"]) for h in history] == [
        (SHARING, True, False), (SHARING, False, True)]


def test_the_signal_is_applied_whatever_the_request_asks(
        member: tuple[Api, dict[str, Any]], services: Any) -> None:
    api, _ = member
    grant(api, SHARING)
    # even a request that fails validation carries the signal
    api.graphql("{ noSuchField }", **GPC)
    assert record_rows(services)[-1]["granted"] is False


def test_a_member_who_never_granted_gets_one_opt_out_on_record(
        member: tuple[Api, dict[str, Any]], services: Any) -> None:
    api, _ = member
    for _ in range(3):
        api.graphql(ANY_QUERY, **GPC)
    rows = record_rows(services)
    assert [(r["purpose"], r["granted"], r["evidence"]["gpc"]) for r in rows] == [
        (SHARING, False, True)]
    assert statuses(api, **GPC)[SHARING] == "WITHDRAWN"
    assert len(record_rows(services)) == 1


def test_granting_a_sharing_purpose_with_gpc_on_is_a_conflict(
        member: tuple[Api, dict[str, Any]], services: Any) -> None:
    api, _ = member
    payload = change(api, SHARING, True, **GPC)
    assert payload["errors"] == [{"field": "purpose", "code": "GPC_CONFLICT"}]
    assert payload["receiptIds"] == []
    assert [(r["purpose"], r["granted"]) for r in record_rows(services)] == [(SHARING, False)]
    assert statuses(api)[SHARING] == "WITHDRAWN"


def test_an_explicit_grant_without_the_signal_holds_until_the_next_signal(
        member: tuple[Api, dict[str, Any]], services: Any) -> None:
    api, _ = member
    api.graphql(ANY_QUERY, **GPC)
    grant(api, SHARING)
    assert statuses(api)[SHARING] == "GRANTED"
    api.graphql(ANY_QUERY, **GPC)
    assert statuses(api)[SHARING] == "WITHDRAWN"
    assert [(r["granted"], r["evidence"]["gpc"]) for r in record_rows(services)] == [
        (False, True), (True, False), (False, True)]


def test_purposes_not_for_sale_or_sharing_are_untouched(
        member: tuple[Api, dict[str, Any]], services: Any, marketing_api: Api) -> None:
    assert [p.key for p in services.policy.sale_or_sharing] == [SHARING]
    api, profile = member
    grant(api, "marketing.email")
    grant(api, "marketing.sms")
    grant(api, SHARING)
    before = statuses(api)
    api.graphql(ANY_QUERY, **GPC)
    after = statuses(api)
    assert after == {**before, SHARING: "WITHDRAWN"}
    assert (after["marketing.email"], after["marketing.sms"]) == ("GRANTED", "GRANTED")
    assert [r["purpose"] for r in record_rows(services)] == [
        "marketing.email", "marketing.sms", SHARING, SHARING]
    read = marketing_api.graphql(MEMBER_DATA, {"purpose": "marketing.email",
                                               "number": profile["memberNumber"]})
    assert read["data"]["memberData"]["email"] == "quillon@example.org"
    # A consent to a non-sharing purpose can be given while the signal is on.
    payload = change(api, "rewards.birthday", True, **GPC)
    assert payload["errors"] == []
    assert record_rows(services)[-1]["evidence"]["gpc"] is True


@pytest.mark.parametrize("value", ["0", "", "true"])
def test_only_sec_gpc_1_is_the_signal(member: tuple[Api, dict[str, Any]], services: Any,
                                      value: str) -> None:
    api, _ = member
    grant(api, SHARING)
    api.graphql(ANY_QUERY, **{"sec-gpc": value})
    assert [r["granted"] for r in record_rows(services)] == [True]


def test_a_client_sending_the_signal_opts_nobody_out(
        member: tuple[Api, dict[str, Any]], partner_api: Api, services: Any) -> None:
    api, profile = member
    grant(api, SHARING)
    data = partner_api.graphql(MEMBER_DATA, {"purpose": SHARING, "number": profile["memberNumber"]},
                               **GPC)["data"]["memberData"]
    assert data["email"] == "quillon@example.org"
    assert len(record_rows(services)) == 1


def test_the_well_known_gpc_resource(http: TestClient) -> None:
    response = http.get("/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["gpc"] is True
    assert set(body) <= {"gpc", "lastUpdate"}
