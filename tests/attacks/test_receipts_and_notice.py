"""Issue 11, item 7, replayed as an auditor holding a member's receipts: the policy URL a
receipt names answers with the notices (in each language), the receipt has the Kantara
v1.1 and ISO/IEC TS 27560 fields (checked against the lists written from the
specifications, tests/consent/receipt_spec.py), a withdrawal names the grant it ends and
the third party, and the signature verifies with the published keys."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from joserfc import jws
from joserfc.jwk import KeySet

from tests.attacks.conftest import Enrol, SignIn
from tests.attacks.server import Server
from tests.consent.receipt_spec import iso_problems, kantara_problems
from tests.consent.support import grant, withdraw

MY_RECEIPT = "query($id: ID!) { myConsentReceipt(receiptId: $id) { receipt jws } }"
MY_HISTORY = "{ myConsentHistory { items { receiptId at } } }"


def test_the_policy_url_of_a_receipt_answers_with_the_notices(server: Server) -> None:
    http = server.client()
    english = http.get("/policy")
    assert english.status_code == 200 and english.headers["content-language"] == "en"
    assert "<h1>Privacy notice</h1>" in english.text and 'id="marketing.email"' in english.text
    french = http.get("/policy", headers={"accept-language": "fr-BE,fr;q=0.9"})
    assert french.headers["content-language"] == "fr"
    assert "<h1>Avis de confidentialité</h1>" in french.text
    notice = http.get("/policy.json").json()
    assert notice["controller"]["phone"] and notice["controller"]["address"]["streetAddress"]
    assert {p["purpose"] for p in notice["purposes"]} >= {"marketing.email", "partners.sharing"}


def test_receipts_are_complete_and_signed(server: Server, enrol: Enrol,
                                          member_api: SignIn) -> None:
    member = enrol("kim")
    api = member_api(member["email"])
    granted = grant(api, "partners.sharing", **{"user-agent": "ReplayBrowser/1.0"})
    withdrawn = withdraw(api, "partners.sharing")
    [grant_id], [withdrawal_id] = granted["receiptIds"], withdrawn["receiptIds"]
    history = {h["receiptId"]: h["at"] for h in api.graphql(MY_HISTORY)["data"][
        "myConsentHistory"]["items"]}
    keys = KeySet.import_key_set(server.client().get("/.well-known/jwks.json").json())

    documents: dict[str, dict[str, Any]] = {}
    for receipt_id in (grant_id, withdrawal_id):
        result = api.graphql(MY_RECEIPT, {"id": receipt_id})["data"]["myConsentReceipt"]
        document = result["receipt"]
        assert kantara_problems(document) == [] and iso_problems(document) == []
        signed = jws.deserialize_compact(result["jws"], keys, algorithms=["ES256"])
        assert json.loads(signed.payload) == document
        event_time = document["iso27560"]["event"]["event_time"]
        assert dt.datetime.fromisoformat(event_time) == dt.datetime.fromisoformat(
            history[receipt_id])  # to the microsecond
        documents[receipt_id] = document

    first = documents[grant_id]
    assert first["policyUrl"] == f"{server.base}/policy"
    assert server.client().get(first["policyUrl"]).status_code == 200
    controller = first["piiControllers"][0]
    assert controller["address"] and controller["phone"]
    processing = first["iso27560"]["processing"]
    assert processing["lawful_basis"] == "consent (GDPR Art. 6(1)(a))"
    published = {p["purpose"]: p["noticeHash"]
                 for p in server.client().get("/policy.json").json()["purposes"]}
    notice = processing["privacy_notice"]
    assert notice["notice_hash"] == published["partners.sharing"]
    assert notice["url"] == f"{server.base}/policy#partners.sharing"
    assert {r["rule"] for r in processing["retention_period"]} >= {"consent_proof"}

    ending = documents[withdrawal_id]
    [purpose] = ending["services"][0]["purposes"]
    assert purpose["consentType"] == "WITHDRAWN"
    assert purpose["thirdPartyDisclosure"] is True and purpose["thirdPartyName"]
    assert ending["iso27560"]["event"]["withdraws_receipt_id"] == grant_id
    assert ending["iso27560"]["processing"]["recipient_third_parties"] == [
        "client:partner-brand"]
