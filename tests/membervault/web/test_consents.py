"""Every purpose in plain language, and one click to say yes, withdraw or object."""

from __future__ import annotations

import re
from typing import Any

from consent.service import consent_history
from membervault.services import Services
from tests.membervault.web.support import Visitor, consents_of


def section(page: str, purpose: str) -> str:
    found = re.search(rf'<section class="purpose" id="purpose-{re.escape(purpose)}".*?</section>',
                      page, re.S)
    assert found, purpose
    return found.group(0)


def test_every_purpose_with_its_basis_notice_and_version(jane_web: Visitor,
                                                         services: Services) -> None:
    page = jane_web.get("/privacy/consents").text
    for purpose in services.policy.purposes.values():
        part = section(page, purpose.key)
        assert purpose.title in part and purpose.notice in part
        assert f"<dd>{purpose.notice_version}</dd>" in part
    assert "Needed for your membership" in section(page, "loyalty.membership")
    assert "we do this only if you say yes" in section(page, "marketing.email")
    assert "unless you object" in section(page, "analytics.segmentation")
    assert "Give consent" in section(page, "marketing.email")
    assert "<button" not in section(page, "loyalty.membership")


def one_click(visitor: Visitor, purpose: str, action: str) -> str:
    """Press the button of that purpose on the page, as it is there."""
    form = re.search(r'<form method="post" action="/privacy/consents">(.*?)</form>',
                     section(visitor.get("/privacy/consents").text, purpose), re.S)
    assert form, f"no form for {purpose}"
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">',
                             form.group(1)))
    button = re.search(r'<button type="submit" name="action" value="(\w+)">', form.group(1))
    assert button and button.group(1) == action
    response = visitor.post("/privacy/consents", {**fields, "action": action})
    assert response.status_code == 303
    assert response.headers["location"] == f"/privacy/consents#purpose-{purpose}"
    return visitor.follow(response).text


def test_giving_and_withdrawing_take_one_click_each(jane_web: Visitor, jane: dict[str, Any],
                                                    services: Services) -> None:
    page = one_click(jane_web, "marketing.email", "grant")
    assert "Thank you: your consent is recorded." in page
    assert "You said yes." in section(page, "marketing.email")
    assert consents_of(services, jane["id"])["marketing.email"] == "granted"
    page = one_click(jane_web, "marketing.email", "withdraw")
    assert "Your consent is withdrawn." in page
    assert consents_of(services, jane["id"])["marketing.email"] == "withdrawn"
    import uuid
    with services.db.unit_of_work() as uow:
        records = consent_history(uow, uuid.UUID(jane["id"]))
    assert [(r.purpose, r.granted, r.channel) for r in records] == [
        ("marketing.email", True, "web"), ("marketing.email", False, "web")]
    assert records[0].actor == f"member:{jane['id']}"


def test_objecting_and_withdrawing_the_objection(jane_web: Visitor) -> None:
    page = one_click(jane_web, "analytics.segmentation", "object")
    assert "Your objection is recorded" in page
    assert "You objected." in section(page, "analytics.segmentation")
    page = one_click(jane_web, "analytics.segmentation", "withdraw_objection")
    assert "Your objection is withdrawn." in page


def test_the_browsers_gpc_signal_is_applied(jane_web: Visitor, jane: dict[str, Any],
                                            services: Services) -> None:
    page = jane_web.get("/privacy/consents", headers={"sec-gpc": "1"}).text
    assert "Global Privacy Control signal" in page
    assert "Give consent" not in section(page, "partners.sharing")
    assert consents_of(services, jane["id"])["partners.sharing"] == "withdrawn"
    import uuid
    with services.db.unit_of_work() as uow:
        record = consent_history(uow, uuid.UUID(jane["id"]))[-1]
    assert record.purpose == "partners.sharing" and record.evidence["gpc"] is True
    refused = jane_web.post("/privacy/consents", {"action": "grant",
                                                  "purpose": "partners.sharing",
                                                  "notice_version": "1"},
                            headers={"sec-gpc": "1"})
    assert "says no to sharing" in jane_web.follow(refused).text
    assert consents_of(services, jane["id"])["partners.sharing"] == "withdrawn"


def test_an_outdated_notice_is_not_consented_to(jane_web: Visitor, jane: dict[str, Any],
                                                services: Services) -> None:
    response = jane_web.post("/privacy/consents", {"action": "grant",
                                                   "purpose": "marketing.email",
                                                   "notice_version": "0"})
    assert "The notice changed" in jane_web.follow(response).text
    assert consents_of(services, jane["id"])["marketing.email"] == "not_given"
