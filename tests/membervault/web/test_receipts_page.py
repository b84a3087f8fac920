"""Consent receipts: listed, shown, downloaded as JSON and as a verifiable JWS."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from joserfc import jws
from joserfc.jwk import KeySet

from membervault.services import Services
from tests.conftest import Api, register
from tests.membervault.web.support import Visitor


def receipt_links(visitor: Visitor) -> list[str]:
    return re.findall(r'href="(/privacy/receipts/[0-9a-f-]{36})"',
                      visitor.get("/privacy/receipts").text)


def test_each_consent_change_has_a_receipt(jane_web: Visitor, jane: dict[str, Any],
                                           services: Services) -> None:
    assert "You have no consent records yet." in jane_web.get("/privacy/receipts").text
    jane_web.post("/privacy/consents", {"action": "grant", "purpose": "marketing.sms",
                                        "notice_version": "1"})
    jane_web.post("/privacy/consents", {"action": "withdraw", "purpose": "marketing.sms"})
    listing = jane_web.get("/privacy/receipts").text
    assert listing.index("Consent withdrawn") < listing.index("Consent given")  # newest first
    newest = receipt_links(jane_web)[0]
    page = jane_web.get(newest).text
    assert "Offers by text message" in page and "Consent withdrawn" in page
    assert "Example Retail Ltd" in page
    assert '<pre lang="en"><code>' in page

    document = jane_web.get(newest + "/receipt.json")
    assert "attachment" in document.headers["content-disposition"]
    receipt = orjson.loads(document.content)
    assert receipt["consentReceiptID"] == newest.rsplit("/", 1)[1]
    assert receipt["piiPrincipalId"] == jane["id"] and receipt["event"] == "withdrawn"

    signed = jane_web.get(newest + "/receipt.jws")
    assert signed.headers["content-type"] == "application/jose"
    keys = KeySet.import_key_set(jane_web.get("/.well-known/jwks.json").json())
    verified = jws.deserialize_compact(signed.text, keys)
    assert orjson.loads(verified.payload) == receipt


def test_someone_elses_receipt_is_not_found(jane_web: Visitor,
                                            visitors: Callable[[], Visitor],
                                            loyalty_api: Api, mailbox: Path) -> None:
    assert register(loyalty_api, email="omar@example.org", phone="07400 123123")["errors"] == []
    omar = visitors()
    omar.follow(omar.sign_in("omar@example.org", mailbox))
    omar.post("/privacy/consents", {"action": "grant", "purpose": "marketing.sms",
                                    "notice_version": "1"})
    (link,) = receipt_links(omar)
    assert omar.get(link).status_code == 200
    for path in (link, link + "/receipt.json", link + "/receipt.jws",
                 f"/privacy/receipts/{uuid.uuid4()}", "/privacy/receipts/nope"):
        assert jane_web.get(path).status_code == 404, path
