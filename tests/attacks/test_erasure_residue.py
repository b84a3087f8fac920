"""Issue 11, item 9, replayed through the running service and its worker, then searched as
an auditor searches the database and the mailbox: an erased address leaves no blind
index, no mail and no readable consent evidence, comes back suppressed for marketing, and
a sign-in request for it stores nothing that finds it again; an erasure under a legal
hold restricts what it keeps; the certificate lists what outlives the erasure. The same
end states in-process: tests/subject_requests/test_erasure.py, test_held_erasure.py,
tests/identity/test_suppression.py, tests/identity/test_sign_in.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from membervault.services import build_services
from tests.attacks.auditor import holders_of, raw_rows
from tests.attacks.conftest import Enrol, SignIn
from tests.attacks.server import Server
from tests.conftest import JANE, Api, register
from tests.consent.support import MEMBER_DATA, RECORD, grant, withdraw
from tests.retention.support import CERTIFICATE, LIFT, PLACE

OPEN_ERASURE = """mutation { openMyRequest(input: {type: ERASURE}) { request { id }
  errors { code } } }"""
MY_REQUESTS = "{ myRequests { items { id type state outcome } } }"
USER_AGENT = f"ReplayBrowser/{uuid.uuid4().hex}"


def erasure_of(api: Api) -> str:
    payload = api.graphql(OPEN_ERASURE)["data"]["openMyRequest"]
    assert payload["errors"] == [], payload
    return str(payload["request"]["id"])


@pytest.fixture(scope="module")
def erased(server: Server, enrol: Enrol, member_api: SignIn, officer: Api) -> dict[str, Any]:
    """Three members ask to be erased in one worker pass: ``opted_out`` withdrew marketing
    by email (and had a hold, lifted), ``signed_in`` only signed in, ``held`` is under an
    active legal hold. A recipient is subscribed to marketing by email."""
    subscribed = server.cli("client", "webhook", "store-counter", "--url",
                            "http://127.0.0.1:9/hooks/membervault")  # never answers
    assert subscribed.returncode == 0, subscribed.stderr
    people = {role: enrol(name) for role, name in (
        ("opted_out", "olga"), ("signed_in", "pete"), ("held", "quinn"))}
    apis = {name: member_api(person["email"]) for name, person in people.items()}
    grant(apis["opted_out"], "marketing.email", **{"user-agent": USER_AGENT})
    withdraw(apis["opted_out"], "marketing.email", **{"user-agent": USER_AGENT})
    placed = officer.graphql(PLACE, {"m": people["opted_out"]["id"], "r": "fraud check 17"})
    hold = placed["data"]["placeLegalHold"]["hold"]["id"]
    assert officer.graphql(LIFT, {"h": hold})["data"]["liftLegalHold"]["errors"] == []
    grant(apis["held"], "marketing.email")
    placed = officer.graphql(PLACE, {"m": people["held"]["id"], "r": "litigation 2026-0417"})
    assert placed["data"]["placeLegalHold"]["errors"] == []
    evidence_before = raw_rows(server, "consent_records")
    requests = {name: erasure_of(api) for name, api in apis.items()}
    server.worker_once()
    return {"people": people, "apis": apis, "requests": requests,
            "evidence_before": evidence_before}


def email_index(server: Server, email: str) -> bytes:
    """The blind index of an address, as the operator holding the keyring computes it."""
    services = build_services(server.settings)
    try:
        return bytes(services.crypto.index.digest("email", email))
    finally:
        services.close()


def test_consent_evidence_is_sealed_before_and_gone_after(
        server: Server, erased: dict[str, Any]) -> None:
    assert not any(USER_AGENT in row for row in erased["evidence_before"])
    assert not any(USER_AGENT in row for row in raw_rows(server, "consent_records"))


def test_an_erased_address_leaves_no_index_no_mail_and_a_sign_in_stores_none(
        server: Server, erased: dict[str, Any]) -> None:
    email = erased["people"]["signed_in"]["email"]
    index = email_index(server, email)
    assert holders_of(server, index) == []
    assert f"To: {email}" not in server.mailbox.read_text()
    http = server.client()
    assert http.post("/auth/member/code", json={"email": email}).status_code == 202
    assert http.post("/auth/member/token", json={"email": email, "code": "000000"}
                     ).status_code == 400
    assert holders_of(server, index) == []
    assert f"To: {email}" not in server.mailbox.read_text()


def test_an_address_that_opted_out_comes_back_suppressed(
        server: Server, erased: dict[str, Any], admin: Api) -> None:
    email = erased["people"]["opted_out"]["email"]
    again = register(admin, email=email, phone="07400999111")
    assert again["errors"] == []
    till = server.api("store-counter")
    refused = till.graphql(RECORD, {"input": {"memberNumber": again["member"]["memberNumber"],
                                              "purpose": "marketing.email", "granted": True,
                                              "noticeVersion": 1}})
    assert refused["data"]["recordMemberConsent"]["errors"] == [
        {"field": "purpose", "code": "MARKETING_SUPPRESSED"}]


def test_a_held_erasure_restricts_marketing_reads_and_tells_the_member(
        erased: dict[str, Any], marketing: Api) -> None:
    held = erased["people"]["held"]
    read = marketing.graphql(MEMBER_DATA, {"purpose": "marketing.email",
                                           "number": held["memberNumber"]})
    data = read["data"]["memberData"]
    assert data["email"] is None and data["givenName"] is None
    reasons = {d["field"]: d["reason"] for d in data["denied"]}
    assert reasons["email"] == reasons["givenName"] == "PROCESSING_RESTRICTED"
    [request] = [r for r in erased["apis"]["held"].graphql(MY_REQUESTS)["data"]["myRequests"]["items"]
                 if r["id"] == erased["requests"]["held"]]
    outcome = request["outcome"]
    assert "Kept because of a legal hold" in outcome and "restricted" in outcome
    assert "supervisory authority" in outcome and "Art. 12(4)" in outcome


def test_the_certificate_lists_events_deliveries_and_holds_as_kept(
        erased: dict[str, Any], officer: Api) -> None:
    answer = officer.graphql(CERTIFICATE, {"id": erased["requests"]["opted_out"]})
    assert "errors" not in answer, answer
    kept = {k["item"]: k for k in answer["data"]["erasureCertificate"]["certificate"]["kept"]}
    assert kept["outbox_events"]["count"] >= 2  # consent.changed twice, member.erased
    assert kept["deliveries"]["count"] >= 2
    assert kept["legal_holds"]["count"] == 1
    assert JANE["familyName"] not in str(answer)
