"""A member's records in the console: consent history and receipts, legal holds. Each
view is an officer's read of the member, in the access log before it is shown."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from membervault.services import Services
from retention.models import LegalHold
from tests.audit.support import entries
from tests.membervault.console.support import Officer
from tests.membervault.web.support import Visitor


def test_the_consent_history_is_logged_then_shown(officer_web: Officer, services: Services,
                                                  jane: dict[str, Any],
                                                  jane_consented: Visitor) -> None:
    before = len(entries(services))
    page = officer_web.get(f"/console/members/{jane['id']}/consents")
    assert page.status_code == 200
    assert "marketing.email" in page.text and "Granted" in page.text
    for value in (jane["email"], jane["givenName"], jane["memberNumber"]):
        assert value not in page.text
    after = entries(services)
    assert len(after) == before + 1
    assert (after[-1].principal, after[-1].purpose) == ("officer:dpo-office", "compliance")
    assert uuid.UUID(jane["id"]).hex in after[-1].reads
    assert "consent_history" in after[-1].reads


def test_a_receipt_is_logged_signed_and_verifiable(officer_web: Officer, services: Services,
                                                   http: Any, jane: dict[str, Any],
                                                   jane_consented: Visitor) -> None:
    history = officer_web.get(f"/console/members/{jane['id']}/consents").text
    receipt_id = history.split('href="/console/receipts/')[1][:36]
    before = len(entries(services))
    page = officer_web.get(f"/console/receipts/{receipt_id}")
    assert page.status_code == 200 and receipt_id in page.text
    assert len(entries(services)) == before + 1
    assert entries(services)[-1].principal == "officer:dpo-office"
    compact = page.text.split('aria-labelledby="jws-title" class="id">')[1].split("</pre>")[0]
    keys = KeySet.import_key_set(http.get("/.well-known/jwks.json").json())
    assert jws.deserialize_compact(compact, keys).payload
    assert officer_web.get(f"/console/receipts/{uuid.uuid4()}").status_code == 404


def test_legal_holds_are_shown_placed_and_lifted(officer_web: Officer, services: Services,
                                                 jane: dict[str, Any]) -> None:
    path = f"/console/members/{jane['id']}/holds"
    assert "No legal hold for this id." in officer_web.get(path).text
    placed = officer_web.post(path, {"reason": "Case 2026-114: chargeback dispute",
                                     "category:contact.email": "on"})
    page = officer_web.follow(placed).text
    assert "The legal hold is placed." in page and "Case 2026-114" in page
    with services.db.unit_of_work() as uow:
        hold = uow.session.query(LegalHold).one()
        assert (hold.placed_by, hold.categories) == ("officer:dpo-office", ["contact.email"])
    lifted = officer_web.post(f"/console/holds/{hold.id}/lift")
    assert "The legal hold is lifted." in officer_web.follow(lifted).text
    assert officer_web.post(f"/console/holds/{uuid.uuid4()}/lift").status_code == 404


def test_a_hold_needs_a_reason_and_a_member(officer_web: Officer, jane: dict[str, Any]) -> None:
    path = f"/console/members/{jane['id']}/holds"
    assert "Give a reason" in officer_web.follow(officer_web.post(path, {"reason": " "})).text
    assert "Give a reason" in officer_web.follow(officer_web.post(
        path, {"reason": "Case 1", "expires": "next week"})).text
    stranger = f"/console/members/{uuid.uuid4()}/holds"
    assert "no member with this id" in officer_web.follow(officer_web.post(
        stranger, {"reason": "Case 1"})).text


def test_finding_a_member_by_internal_id(officer_web: Officer, jane: dict[str, Any]) -> None:
    officer_web.get("/console/members")
    found = officer_web.post("/console/members", {"member": jane["id"]})
    assert found.headers["location"] == f"/console/members/{jane['id']}/consents"
    mistaken = officer_web.post("/console/members", {"member": jane["email"]})
    assert mistaken.status_code == 400 and "Enter an internal member id" in mistaken.text
    assert jane["email"] not in mistaken.text


def test_an_officers_reads_show_on_the_members_page_in_plain_words(
        officer_web: Officer, jane: dict[str, Any], jane_consented: Visitor) -> None:
    history = officer_web.get(f"/console/members/{jane['id']}/consents").text
    receipt_id = history.split('href="/console/receipts/')[1][:36]
    assert officer_web.get(f"/console/receipts/{receipt_id}").status_code == 200
    assert officer_web.get(f"/console/members/{jane['id']}/holds").status_code == 200
    page = jane_consented.get("/privacy/access-log").text
    rows = page.split("<tbody>")[1].split("</tr>")[:3]  # newest first: holds, receipt, history
    for row, record in zip(rows, ("Whether the law requires us to keep some of your data",
                                  "A receipt for one of your consent decisions",
                                  "Your consent history: each yes and no, and when"),
                           strict=True):
        assert "<td>A data protection officer</td>" in row
        assert "<td>Checking that we keep the data protection rules</td>" in row
        assert f"<td>{record}</td>" in row
    for code in ("compliance", "consent_history", "consent_receipt", "legal_holds"):
        assert code not in page
    jane_consented.post("/privacy/language", {"language": "sv", "next": "/privacy/access-log"})
    swedish = jane_consented.get("/privacy/access-log").text
    row = swedish.split("<tbody>")[1].split("</tr>")[0]
    assert '<html lang="sv">' in swedish
    assert "<td>Om lagen kräver att vi sparar en del av dina uppgifter</td>" in row
    assert "<td>Kontroll av att vi följer dataskyddsreglerna</td>" in row
    for code in ("compliance", "consent_history", "consent_receipt", "legal_holds"):
        assert code not in swedish


@pytest.mark.parametrize("path", ["/console/members/not-an-id/consents",
                                  "/console/members/not-an-id/holds",
                                  "/console/receipts/not-an-id"])
def test_a_page_of_records_needs_an_internal_id_and_reads_nothing_without_one(
        officer_web: Officer, services: Services, path: str) -> None:
    before = len(entries(services))
    page = officer_web.get(path)
    assert page.status_code == 404
    assert "<table>" not in page.text
    assert len(entries(services)) == before
