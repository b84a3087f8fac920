"""Consent receipts (design rule 3): Kantara Consent Receipt v1.1 fields, signed as a
compact JWS anyone can verify with the published keys; only for whom it concerns."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from tests.conftest import JANE, Api
from tests.consent.support import grant, new_member, withdraw
from vaultkernel.settings import Settings

MY_RECEIPT = """query($id: ID!) { myConsentReceipt(receiptId: $id) { receipt jws } }"""
OFFICER_RECEIPT = """query($id: ID!) { consentReceipt(receiptId: $id) { receipt jws } }"""
KANTARA_FIELDS = {"version", "jurisdiction", "consentTimestamp", "collectionMethod",
                  "consentReceiptID", "piiPrincipalId", "piiControllers", "policyUrl",
                  "services", "sensitive", "spiCat"}
PURPOSE_FIELDS = {"purpose", "consentType", "piiCategory", "termination", "purposeCategory",
                  "primaryPurpose", "thirdPartyDisclosure"}


def my_receipt(api: Api, receipt_id: str) -> dict[str, Any] | None:
    result = api.graphql(MY_RECEIPT, {"id": receipt_id})
    assert "errors" not in result, result
    value: dict[str, Any] | None = result["data"]["myConsentReceipt"]
    return value


def published_keys(http: TestClient) -> KeySet:
    response = http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return KeySet.import_key_set(response.json())


def test_a_receipt_has_the_kantara_fields(member: tuple[Api, dict[str, Any]],
                                          services: Any, settings: Settings) -> None:
    api, profile = member
    receipt_id = grant(api, "marketing.email")["receiptIds"][0]
    receipt = my_receipt(api, receipt_id)
    assert receipt is not None
    document = receipt["receipt"]
    assert set(document) >= KANTARA_FIELDS
    assert document["version"] == "KI-CR-v1.1.0"
    assert document["jurisdiction"] == services.policy.jurisdiction
    assert isinstance(document["consentTimestamp"], int)
    assert document["collectionMethod"] == "web form"
    assert document["consentReceiptID"] == receipt_id
    assert document["piiPrincipalId"] == profile["id"]
    assert document["piiControllers"] == [{
        "piiController": services.policy.controller, "contact": services.policy.dpo_contact,
        "email": services.policy.dpo_contact}]
    assert document["policyUrl"].startswith(settings.issuer)
    assert document["sensitive"] is False and document["spiCat"] == []
    [service] = document["services"]
    [purpose] = service["purposes"]
    assert set(purpose) >= PURPOSE_FIELDS
    assert purpose["purpose"] == "marketing.email"
    assert purpose["consentType"] == "EXPLICIT"
    assert purpose["piiCategory"] == list(services.policy.purposes["marketing.email"].categories)
    assert purpose["termination"]
    assert purpose["thirdPartyDisclosure"] is False
    assert (document["event"], document["noticeVersion"]) == ("given", 1)


def test_a_withdrawal_has_a_receipt_too(member: tuple[Api, dict[str, Any]]) -> None:
    api, _ = member
    grant(api, "partners.sharing")
    receipt_id = withdraw(api, "partners.sharing")["receiptIds"][0]
    receipt = my_receipt(api, receipt_id)
    assert receipt is not None
    assert receipt["receipt"]["event"] == "withdrawn"
    [purpose] = receipt["receipt"]["services"][0]["purposes"]
    assert purpose["thirdPartyDisclosure"] is True


def test_the_jws_verifies_with_the_published_keys_and_carries_the_receipt(
        member: tuple[Api, dict[str, Any]], http: TestClient) -> None:
    api, _ = member
    receipt = my_receipt(api, grant(api, "marketing.email")["receiptIds"][0])
    assert receipt is not None
    verified = jws.deserialize_compact(receipt["jws"], published_keys(http),
                                       algorithms=["ES256"])
    assert verified.protected["alg"] == "ES256"
    assert verified.protected["typ"] == "consent-receipt+jws"
    assert orjson.loads(verified.payload) == receipt["receipt"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_a_tampered_jws_fails_verification(member: tuple[Api, dict[str, Any]],
                                           http: TestClient) -> None:
    api, _ = member
    receipt = my_receipt(api, grant(api, "marketing.email")["receiptIds"][0])
    assert receipt is not None
    header, payload, signature = receipt["jws"].split(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    document["event"] = "withdrawn"
    forged = f"{header}.{b64(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))}.{signature}"
    keys = published_keys(http)
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(forged, keys, algorithms=["ES256"])
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BA")
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(f"{header}.{payload}.{flipped}", keys, algorithms=["ES256"])


def test_another_member_cannot_fetch_the_receipt(member: tuple[Api, dict[str, Any]],
                                                 loyalty_api: Api, http: TestClient,
                                                 settings: Settings) -> None:
    api, _ = member
    receipt_id = grant(api, "marketing.email")["receiptIds"][0]
    other, _ = new_member(loyalty_api, http, settings, "nosy", 2)
    assert my_receipt(other, receipt_id) is None
    assert my_receipt(other, "not-a-receipt-id") is None
    assert my_receipt(api, "00000000-0000-4000-8000-000000000000") is None


def test_an_officer_can_fetch_any_receipt(member: tuple[Api, dict[str, Any]],
                                          officer_api: Api, http: TestClient) -> None:
    api, _ = member
    receipt_id = grant(api, "marketing.email")["receiptIds"][0]
    mine = my_receipt(api, receipt_id)
    result = officer_api.graphql(OFFICER_RECEIPT, {"id": receipt_id})
    assert "errors" not in result, result
    theirs = result["data"]["consentReceipt"]
    assert mine is not None and theirs["receipt"] == mine["receipt"]
    verified = jws.deserialize_compact(theirs["jws"], published_keys(http), algorithms=["ES256"])
    assert orjson.loads(verified.payload) == mine["receipt"]
    unknown = officer_api.graphql(OFFICER_RECEIPT, {"id": "00000000-0000-4000-8000-000000000000"})
    assert unknown["data"]["consentReceipt"] is None


def test_clients_and_members_cannot_use_the_officer_field(
        member: tuple[Api, dict[str, Any]], marketing_api: Api) -> None:
    api, _ = member
    receipt_id = grant(api, "marketing.email")["receiptIds"][0]
    for caller in (api, marketing_api):
        result = caller.graphql(OFFICER_RECEIPT, {"id": receipt_id})
        assert result["data"] == {"consentReceipt": None}
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    result = marketing_api.graphql(MY_RECEIPT, {"id": receipt_id})
    assert result["data"] == {"myConsentReceipt": None}
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_receipt_holds_no_personal_value(member: tuple[Api, dict[str, Any]]) -> None:
    api, profile = member
    receipt = my_receipt(api, grant(api, "rewards.birthday")["receiptIds"][0])
    assert receipt is not None
    payload = receipt["jws"].split(".")[1]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    for text in (json.dumps(receipt["receipt"]), decoded):
        for value in ("quillon@example.org", "Quillon", JANE["familyName"], "0740055",
                      profile["memberNumber"], "1990-02-03", "Rosewood", "BS1 4DJ"):
            assert value.lower() not in text.lower()


def test_a_receipt_is_not_a_bearer_token(member: tuple[Api, dict[str, Any]],
                                         http: TestClient) -> None:
    api, _ = member
    receipt = my_receipt(api, grant(api, "marketing.email")["receiptIds"][0])
    assert receipt is not None
    response = http.post("/graphql", json={"query": "{ myConsents { purpose } }"},
                         headers={"authorization": f"Bearer {receipt['jws']}"})
    assert response.status_code == 401
    assert response.json()["reason"] in {"wrong_token_type", "bad_signature", "invalid_claims",
                                         "invalid_iss", "invalid_aud"}
