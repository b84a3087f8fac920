"""The member's details: shown, corrected, and each answer in the access log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from membervault.services import Services
from subject_requests.models import DataSubjectRequest
from tests.audit.support import logged
from tests.membervault.web.support import Visitor, profile_form


def test_the_profile_shows_every_value(jane_web: Visitor, jane: dict[str, Any]) -> None:
    page = jane_web.get("/privacy/profile").text
    for value in (jane["memberNumber"], "Janelle", "Quasimodo-Varga", jane["email"],
                  "+447911123456", "12 Rosewood Lane", "BS1 4DJ Bristol", "en-GB", "garden"):
        assert value in page
    assert "February 3, 1990" in page


def test_showing_the_profile_is_one_logged_read(jane_web: Visitor, jane: dict[str, Any],
                                                services: Services) -> None:
    before = len(logged(services))
    jane_web.get("/privacy/profile")
    after = logged(services)
    assert len(after) == before + 1
    entry = after[-1]
    assert entry.principal == f"member:{jane['id']}" and entry.purpose == "self_service"
    assert {"email", "given_name", "postal_address"} <= set(entry.fields_returned)


def test_the_form_is_filled_and_labelled(jane_web: Visitor) -> None:
    form = jane_web.get("/privacy/profile/edit").text
    assert 'id="given_name" name="given_name" type="text" value="Janelle"' in form
    assert '<label for="given_name">Given name</label>' in form
    assert 'value="12 Rosewood Lane"' in form and 'value="BS1 4DJ"' in form


def test_a_correction_applies_and_is_shown(jane_web: Visitor, services: Services,
                                           jane: dict[str, Any]) -> None:
    before = len(logged(services))
    saved = jane_web.post("/privacy/profile", profile_form(given_name="Jan", phone="",
                                                         line2="Flat 2"))
    assert saved.status_code == 200
    assert "Your changes are saved." in saved.text
    assert "<dd>Jan</dd>" in saved.text and "Flat 2" in saved.text
    assert len(logged(services)) == before + 1  # the answer is one logged read
    page = jane_web.get("/privacy/profile").text
    assert "<dd>Jan</dd>" in page and "+447911123456" not in page


def test_a_correction_is_a_rectification_request_the_member_follows(
        jane_web: Visitor, services: Services, jane: dict[str, Any]) -> None:
    """GDPR Art. 16 from the form: carried out at once, kept as a completed request that
    names the fields that changed (never their values); a form that changes nothing opens
    no request."""
    jane_web.post("/privacy/profile", profile_form())
    assert rectifications(services) == []
    jane_web.post("/privacy/profile", profile_form(given_name="Jannike", line2="Flat 2"))
    assert rectifications(services) == [("completed", ["given_name", "postal_address"])]
    page = jane_web.get("/privacy/requests").text
    assert "Correct your data" in page
    assert "Jannike" not in page and "Flat 2" not in page


def rectifications(services: Services) -> list[tuple[str, Any]]:
    with services.db.unit_of_work() as uow:
        return [(r.state, r.details.get("fields")) for r in uow.session.scalars(
            select(DataSubjectRequest).where(DataSubjectRequest.type == "rectification"))]


def test_a_wrong_value_is_explained_next_to_its_field(jane_web: Visitor,
                                                     services: Services) -> None:
    refused = jane_web.post("/privacy/profile", profile_form(email="not an address",
                                                           given_name=""))
    assert refused.status_code == 400
    assert 'role="alert"' in refused.text
    assert "Enter an email address such as name@example.com." in refused.text
    assert 'aria-describedby="email-hint email-problem"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert "Fill this in." in refused.text
    assert 'value="not an address"' in refused.text  # what was typed is kept
    assert "Janelle" in jane_web.get("/privacy/profile").text
    assert rectifications(services) == []  # nothing applied, no request


def test_the_preferred_language_chooses_the_pages_language(jane_web: Visitor) -> None:
    saved = jane_web.post("/privacy/profile", profile_form(preferred_language="sv-SE"))
    assert '<html lang="sv">' in saved.text
    assert '<html lang="sv">' in jane_web.get("/privacy/consents",
                                              headers={"accept-language": "bg"}).text
