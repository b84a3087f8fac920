"""Consent receipts (design rule 3): the Kantara Consent Receipt v1.1 fields and the ISO/IEC
TS 27560:2023 record fields, checked against field lists written from the specifications
(tests/consent/receipt_spec.py), signed as a compact JWS anyone can verify with the
published keys; only for whom it concerns."""

from __future__ import annotations

import base64
import copy
import dataclasses
import datetime as dt
import json
import uuid
from typing import Any

import orjson
import pytest
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from consent import ledger, receipts
from consent.models import ConsentRecord
from consent.notices import notice_hash
from identity import clients
from tests.conftest import JANE, Api
from tests.consent.receipt_spec import iso_problems, kantara_problems
from tests.consent.support import grant, new_member, withdraw
from vaultkernel.settings import Settings

MY_RECEIPT = """query($id: ID!) { myConsentReceipt(receiptId: $id) { receipt jws } }"""
OFFICER_RECEIPT = """query($id: ID!) { consentReceipt(receiptId: $id) { receipt jws } }"""
MY_HISTORY = "{ myConsentHistory { items { receiptId at } } }"


@pytest.fixture
def partner_registered(services: Any) -> None:
    """A registered client that receives the sale/sharing purpose's data, and one that
    receives email marketing."""
    with services.db.unit_of_work() as uow:
        for client_id, name, kind, purpose in (
                ("partner-brand", "Partner Brand SA", "partner", "partners.sharing"),
                ("email-tool", "Mailing House", "marketing", "marketing.email")):
            clients.create_client(uow.session, services.hasher, client_id=client_id, name=name,
                                  kind=kind, role="client", purposes=[purpose],
                                  known_purposes=services.policy.purposes, actor="test")
        uow.commit()


def my_receipt(api: Api, receipt_id: str) -> dict[str, Any] | None:
    result = api.graphql(MY_RECEIPT, {"id": receipt_id})
    assert "errors" not in result, result
    value: dict[str, Any] | None = result["data"]["myConsentReceipt"]
    return value


def document_of(api: Api, receipt_id: str) -> dict[str, Any]:
    receipt = my_receipt(api, receipt_id)
    assert receipt is not None
    document: dict[str, Any] = receipt["receipt"]
    return document


def published_keys(http: TestClient) -> KeySet:
    response = http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return KeySet.import_key_set(response.json())


def test_a_grant_receipt_has_every_kantara_and_iso_27560_field(
        member: tuple[Api, dict[str, Any]], services: Any, settings: Settings) -> None:
    api, profile = member
    receipt_id = grant(api, "marketing.email")["receiptIds"][0]
    document = document_of(api, receipt_id)
    assert kantara_problems(document) == []
    assert iso_problems(document) == []
    policy = services.policy
    assert document["version"] == "KI-CR-v1.1.0"
    assert document["jurisdiction"] == policy.jurisdiction
    assert document["collectionMethod"] == "web form"
    assert document["consentReceiptID"] == receipt_id
    assert document["piiPrincipalId"] == profile["id"]
    assert document["language"] == "en"
    assert document["piiControllers"] == [{
        "piiController": "Example Retail Ltd", "onBehalf": False,
        "contact": "Data protection officer",
        "address": {"streetAddress": "Rue de l'Exemple 1", "postalCode": "1000",
                    "addressLocality": "Bruxelles", "addressCountry": "BE"},
        "email": policy.dpo_contact, "phone": "+32 2 555 01 00"}]
    assert document["policyUrl"] == f"{settings.issuer}/policy"
    assert document["sensitive"] is False and document["spiCat"] == []
    [service] = document["services"]
    assert service["service"] == "Example Retail rewards"
    [purpose] = service["purposes"]
    assert purpose["purpose"] == policy.purposes["marketing.email"].notice  # the notice text
    assert purpose["purposeCategory"] == ["6 - Marketing"]
    # identity.name, contact.email, profile.language -> the policy's mapping
    assert purpose["piiCategory"] == ["1 - Biographical", "2 - Contact", "16 - Profile"]
    assert purpose["consentType"] == "EXPLICIT"
    assert purpose["primaryPurpose"] is False
    assert purpose["thirdPartyDisclosure"] is False and "thirdPartyName" not in purpose
    assert (document["event"], document["noticeVersion"], document["purposeKey"]) == (
        "given", 1, "marketing.email")


def test_the_iso_27560_record_gives_basis_notice_retention_recipients_and_event(
        member: tuple[Api, dict[str, Any]], services: Any, settings: Settings,
        partner_registered: None) -> None:
    api, profile = member
    receipt_id = grant(api, "rewards.birthday")["receiptIds"][0]
    record = document_of(api, receipt_id)["iso27560"]
    assert record["schema_version"] == "ISO/IEC TS 27560:2023"
    assert record["receipt_id"] == record["record_id"] == receipt_id
    assert record["pii_principal_id"] == profile["id"]
    processing = record["processing"]
    purpose = services.policy.purposes["rewards.birthday"]
    assert processing["lawful_basis"] == "consent (GDPR Art. 6(1)(a))"
    assert processing["privacy_notice"] == {
        "url": f"{settings.issuer}/policy#rewards.birthday", "notice_version": 1,
        "notice_hash": notice_hash(services.policy, purpose), "hash_algorithm": "SHA-256"}
    assert processing["purposes"] == [{"purpose_id": "rewards.birthday",
                                       "purpose": "Birthday rewards",
                                       "purpose_type": ["5 - Personalized Experience"]}]
    assert [p["pii_type"] for p in processing["pii_information"]] == list(purpose.categories)
    rules = {r["rule"]: r for r in processing["retention_period"]}
    assert set(rules) == {"inactive_members", "birthdate_without_consent", "consent_proof"}
    assert rules["birthdate_without_consent"]["description"] == (
        "Your date of birth is deleted 30 days after you withdraw consent to birthday rewards.")
    assert processing["storage_locations"] == list(services.policy.storage_locations)
    assert processing["recipient_third_parties"] == []  # no client is registered for it
    assert processing["pii_controllers"] == ["controller"]
    [controller] = record["parties"]
    assert controller["party_address"] == "Rue de l'Exemple 1, 1000 Bruxelles, BE"
    assert controller["party_phone"] == "+32 2 555 01 00"
    event = record["event"]
    assert (event["event_state"], event["event_type"], event["validity_duration"]) == (
        "given", "explicitly expressed consent", "until withdrawn")
    assert event["entity_id"] == f"member:{profile['id']}"
    assert event["withdraws_receipt_id"] is None


def test_a_withdrawal_receipt_is_complete_and_names_the_grant_it_ends(
        member: tuple[Api, dict[str, Any]], partner_registered: None) -> None:
    api, _ = member
    granted = grant(api, "partners.sharing")["receiptIds"][0]
    withdrawn = withdraw(api, "partners.sharing")["receiptIds"][0]
    document = document_of(api, withdrawn)
    assert kantara_problems(document) == []
    assert iso_problems(document) == []
    assert document["event"] == "withdrawn"
    [purpose] = document["services"][0]["purposes"]
    assert purpose["consentType"] == "WITHDRAWN"  # no authority to process any more
    assert purpose["thirdPartyDisclosure"] is True
    assert purpose["thirdPartyName"] == "Partner Brand SA"  # the registered client
    assert purpose["purposeCategory"] == ["9 - Sharing for Marketing"]
    record = document["iso27560"]
    assert record["event"]["event_state"] == "withdrawn"
    assert record["event"]["event_type"] == "explicitly expressed withdrawal"
    assert record["event"]["withdraws_receipt_id"] == granted
    assert record["processing"]["recipient_third_parties"] == ["client:partner-brand"]
    partner = record["parties"][1]
    assert (partner["party_name"], partner["party_role"], partner["party_type"]) == (
        "Partner Brand SA", "third party", "partner")
    # The grant itself names nobody it ends; a withdrawal of something never granted
    # (here: a second withdrawal) ends no grant either.
    assert document_of(api, granted)["iso27560"]["event"]["withdraws_receipt_id"] is None
    again = withdraw(api, "partners.sharing")["receiptIds"][0]
    assert document_of(api, again)["iso27560"]["event"]["withdraws_receipt_id"] is None


def test_a_gpc_opt_out_receipt_says_it_was_a_signal(
        member: tuple[Api, dict[str, Any]]) -> None:
    api, _ = member
    api.graphql("{ myConsents { purpose } }", **{"Sec-GPC": "1"})
    history = api.graphql("{ myConsentHistory { items { receiptId purpose granted gpc } } }")
    [opt_out] = history["data"]["myConsentHistory"]["items"]
    assert (opt_out["purpose"], opt_out["granted"], opt_out["gpc"]) == (
        "partners.sharing", False, True)
    document = document_of(api, opt_out["receiptId"])
    assert kantara_problems(document) == [] and iso_problems(document) == []
    event = document["iso27560"]["event"]
    assert event["event_type"] == "opt-out preference signal (Global Privacy Control)"
    assert event["withdraws_receipt_id"] is None  # never granted
    # Without a registered recipient, the policy's clients of the purpose are named.
    [purpose] = document["services"][0]["purposes"]
    assert purpose["thirdPartyName"] == "Partner brand"


def test_timestamps_keep_sub_second_precision(member: tuple[Api, dict[str, Any]],
                                              services: Any) -> None:
    api, _ = member
    first = grant(api, "marketing.email")["receiptIds"][0]
    second = withdraw(api, "marketing.email")["receiptIds"][0]
    history = {h["receiptId"]: h["at"] for h in
               api.graphql(MY_HISTORY)["data"]["myConsentHistory"]["items"]}
    times = []
    for receipt_id in (first, second):
        document = document_of(api, receipt_id)
        at = dt.datetime.fromisoformat(history[receipt_id])
        event_time = document["iso27560"]["event"]["event_time"]
        assert event_time == at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert dt.datetime.fromisoformat(event_time) == at  # to the microsecond
        assert document["consentTimestamp"] == int(at.timestamp())  # Kantara: whole seconds
        times.append(dt.datetime.fromisoformat(event_time))
    assert times[0] < times[1]  # ordered, even within one second


def test_the_receipt_keeps_the_hash_of_the_notice_it_was_given_to(
        member: tuple[Api, dict[str, Any]], services: Any, http: TestClient) -> None:
    api, _ = member
    receipt_id = grant(api, "marketing.email")["receiptIds"][0]
    published = {p["purpose"]: p["noticeHash"] for p in http.get("/policy.json").json()["purposes"]}
    hashed = document_of(api, receipt_id)["iso27560"]["processing"]["privacy_notice"]
    assert hashed["notice_hash"] == published["marketing.email"]
    # The hash is stored with the record: a later change of the text does not rewrite it.
    with services.db.unit_of_work() as uow:
        record = ledger.find_record(uow.session, uuid.UUID(receipt_id))
        assert record is not None and record.notice_hash == hashed["notice_hash"]
        changed = dataclasses.replace(services.policy, purposes={
            **services.policy.purposes, "marketing.email": dataclasses.replace(
                services.policy.purposes["marketing.email"], notice="Something else.")})
        rebuilt = receipts.receipt_for(uow.session, record, changed, issuer="https://x")
    assert rebuilt["iso27560"]["processing"]["privacy_notice"]["notice_hash"] == (
        hashed["notice_hash"])


def test_the_policy_url_answers(member: tuple[Api, dict[str, Any]], http: TestClient) -> None:
    api, _ = member
    document = document_of(api, grant(api, "marketing.email")["receiptIds"][0])
    url = document["policyUrl"]
    response = http.get(url)
    assert response.status_code == 200
    assert "Offers by email" in response.text


def test_the_checker_finds_what_is_missing_or_wrong(member: tuple[Api, dict[str, Any]],
                                                    partner_registered: None) -> None:
    """The field lists would catch a receipt that broke them."""
    api, _ = member
    document = document_of(api, grant(api, "partners.sharing")["receiptIds"][0])
    broken = copy.deepcopy(document)
    del broken["piiControllers"][0]["phone"]
    del broken["services"][0]["purposes"][0]["thirdPartyName"]
    broken["services"][0]["purposes"][0]["purposeCategory"] = ["Marketing"]
    broken["consentTimestamp"] = 1.5
    assert kantara_problems(broken) == [
        "receipt.consentTimestamp: float is not <class 'int'>",
        "piiControllers[0].phone: missing",
        "services[0].purposes[0].thirdPartyName: MUST when thirdPartyDisclosure",
        "services[0].purposes[0].purposeCategory: 'Marketing' is not in the vocabulary"]
    broken = copy.deepcopy(document)
    del broken["iso27560"]["processing"]["retention_period"]
    broken["iso27560"]["parties"][1]["party_address"] = ""
    broken["iso27560"]["event"]["event_time"] = None
    assert iso_problems(broken) == [
        "processing.retention_period: mandatory, missing or empty",
        "parties[1].party_address: mandatory, missing or empty",
        "event.event_time: mandatory, missing or empty"]


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


def record(purpose: str, granted: bool, id_: int, **extra: Any) -> ConsentRecord:
    return ConsentRecord(id=id_, receipt_id=uuid.uuid4(), member_id=uuid.uuid4(),
                         purpose=purpose, granted=granted, notice_version=1,
                         at=dt.datetime(2026, 11, 23, 12, 7, 26, 447409, tzinfo=dt.UTC),
                         channel="web", actor="member:x", evidence={}, **extra)


def test_a_purpose_using_a_sensitive_category_makes_the_receipt_sensitive(
        services: Any) -> None:
    policy = services.policy
    health = dataclasses.replace(policy, categories={
        **policy.categories, "identity.birthdate": dataclasses.replace(
            policy.categories["identity.birthdate"], pii_categories=("Biographical", "Health"))})
    document = receipts.receipt(record("rewards.birthday", True, 1), health,
                                issuer="https://x")
    assert (document["sensitive"], document["spiCat"]) == (True, ["6 - Health"])
    assert kantara_problems(document) == []
    birthdate = document["iso27560"]["processing"]["pii_information"][2]
    assert birthdate["sensitive_pii_category"] == ["6 - Health"]
    plain = receipts.receipt(record("rewards.birthday", True, 1), policy, issuer="https://x")
    assert (plain["sensitive"], plain["spiCat"]) == (False, [])


def test_each_withdrawal_ends_the_grant_before_it() -> None:
    history = [record("a", True, 1), record("b", False, 2), record("a", False, 3),
               record("a", False, 4), record("a", True, 5), record("b", True, 6),
               record("a", False, 7)]
    assert receipts.ended_grants(history) == {3: history[0].receipt_id,
                                              7: history[4].receipt_id}


def test_a_receipt_is_in_the_language_the_notice_was_read_in(services: Any) -> None:
    policy = services.policy
    purpose = policy.purposes["marketing.email"]
    swedish = record("marketing.email", True, 1, language="sv",
                     notice_hash=notice_hash(policy, purpose, "sv"))
    document = receipts.receipt(swedish, policy, issuer="https://x")
    iso = document["iso27560"]["processing"]
    assert (document["language"], iso["language"]) == ("sv", "sv")
    assert document["services"][0]["purposes"][0]["purpose"] == (
        policy.translations["sv"].purposes["marketing.email"].notice)
    assert iso["purposes"][0]["purpose"] == "Erbjudanden via e-post"
    assert iso["pii_information"][1]["pii_type_title"] == "E-postadress"
    assert iso["privacy_notice"] == {
        "url": "https://x/policy?lang=sv#marketing.email", "notice_version": 1,
        "notice_hash": notice_hash(policy, purpose, "sv"), "hash_algorithm": "SHA-256"}
    assert kantara_problems(document) == [] and iso_problems(document) == []


def test_a_record_older_than_its_language_keeps_its_english_receipt(services: Any) -> None:
    policy = services.policy
    purpose = policy.purposes["marketing.email"]
    old = record("marketing.email", True, 1, notice_hash=notice_hash(policy, purpose))
    document = receipts.receipt(old, policy, issuer="https://x")
    assert document["language"] == "en"
    assert document["iso27560"]["processing"]["privacy_notice"]["url"] == (
        "https://x/policy#marketing.email")
    assert document["iso27560"]["processing"]["privacy_notice"]["notice_hash"] == (
        notice_hash(policy, purpose))


GRANT_IN = """mutation($purpose: String!, $language: String) {
  grantConsent(purpose: $purpose, noticeVersion: 1, noticeLanguage: $language) {
    receiptIds errors { code } } }"""


@pytest.mark.parametrize(("asked", "recorded"), [("bg", "bg"), ("nb", "nb"), (None, "en"),
                                                 ("de", "en")])
def test_a_grant_through_the_api_names_the_language_it_was_read_in(
        member: tuple[Api, dict[str, Any]], services: Any, asked: str | None,
        recorded: str) -> None:
    api, _ = member
    payload = api.graphql(GRANT_IN, {"purpose": "marketing.email", "language": asked})
    result = payload["data"]["grantConsent"]
    assert result["errors"] == []
    document = document_of(api, result["receiptIds"][0])
    purpose = services.policy.purposes["marketing.email"]
    assert document["language"] == recorded
    assert document["iso27560"]["processing"]["privacy_notice"]["notice_hash"] == (
        notice_hash(services.policy, purpose, recorded))
