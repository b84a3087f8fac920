"""The privacy notice at /policy and /policy.json: the policy's notices per language
(?lang= first, then Accept-Language, else the policy's own language), HTML or JSON."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from consent.notices import notice_hash
from membervault.handlers.privacy_notice import choose_language, page, requested_languages


def test_the_notice_answers_in_english_by_default(http: TestClient, services: Any) -> None:
    response = http.get("/policy")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-language"] == "en"
    assert "Accept-Language" in response.headers["vary"]
    text = response.text
    assert '<html lang="en">' in text
    assert "<h1>Privacy notice</h1>" in text
    for purpose in services.policy.purposes.values():
        assert f"<h2>{purpose.title}</h2>" in text
        assert f'<section id="{purpose.key}">' in text
    assert "Rue de l&#x27;Exemple 1" in text and "+32 2 555 01 00" in text
    assert 'hreflang="fr"' in text


@pytest.mark.parametrize("ask", [{"params": {"lang": "fr"}},
                                 {"headers": {"Accept-Language": "fr-BE,fr;q=0.9,en;q=0.5"}},
                                 {"headers": {"Accept-Language": "de, fr;q=0.7, en;q=0.3"}}])
def test_the_notice_answers_in_french_when_asked(http: TestClient, ask: dict[str, Any]) -> None:
    response = http.get("/policy", **ask)
    assert response.status_code == 200
    assert response.headers["content-language"] == "fr"
    assert '<html lang="fr">' in response.text
    assert "<h1>Avis de confidentialité</h1>" in response.text
    assert "<h2>Offres par e-mail</h2>" in response.text
    assert "<li>Adresse e-mail</li>" in response.text
    assert "Offers by email" not in response.text


def test_the_json_notice_in_two_languages(http: TestClient, services: Any) -> None:
    english = http.get("/policy.json").json()
    french = http.get("/policy.json", params={"lang": "fr"}).json()
    assert (english["language"], french["language"]) == ("en", "fr")
    assert english["languages"] == french["languages"] == ["en", "bg", "fr", "nb", "sv"]
    assert (english["title"], french["title"]) == ("Privacy notice", "Avis de confidentialité")
    assert english["policyVersion"] == services.policy.version
    assert english["controller"] == french["controller"] == {
        "name": "Example Retail Ltd", "contact": "Data protection officer",
        "address": {"streetAddress": "Rue de l'Exemple 1", "postalCode": "1000",
                    "addressLocality": "Bruxelles", "addressCountry": "BE"},
        "phone": "+32 2 555 01 00", "email": services.policy.dpo_contact}
    en = {p["purpose"]: p for p in english["purposes"]}
    fr = {p["purpose"]: p for p in french["purposes"]}
    assert list(en) == list(fr) == list(services.policy.purposes)
    email = services.policy.purposes["marketing.email"]
    assert (en["marketing.email"]["title"], en["marketing.email"]["notice"]) == (
        email.title, email.notice)
    assert fr["marketing.email"]["title"] == "Offres par e-mail"
    assert fr["marketing.email"]["notice"].startswith("Nous vous envoyons")
    # Each language's notice has the hash of its own text (what a record made in it keeps).
    assert en["marketing.email"]["noticeHash"] == notice_hash(services.policy, email)
    assert fr["marketing.email"]["noticeHash"] == notice_hash(services.policy, email, "fr")
    assert en["marketing.email"]["noticeHash"] != fr["marketing.email"]["noticeHash"]
    assert en["marketing.email"]["purposeCategories"] == ["6 - Marketing"]
    assert [c["title"] for c in fr["marketing.email"]["categories"]] == [
        "Nom", "Adresse e-mail", "Langue préférée"]
    assert en["marketing.email"]["categories"][1] == {
        "category": "contact.email", "title": "Email address", "piiCategories": ["2 - Contact"]}


def test_an_accept_header_asking_for_json_gets_json(http: TestClient) -> None:
    response = http.get("/policy", headers={"Accept": "application/json",
                                             "Accept-Language": "fr"})
    assert response.headers["content-type"] == "application/json"
    assert response.json()["language"] == "fr"
    browser = http.get("/policy", headers={"Accept": "text/html,application/json;q=0.9"})
    assert browser.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("ask", [{"params": {"lang": "de"}},
                                 {"headers": {"Accept-Language": "de-DE, nl;q=0.5"}},
                                 {"headers": {"Accept-Language": "fr;q=0, *"}},
                                 {"params": {"lang": "<script>"}}])
def test_an_unknown_language_falls_back_to_the_policys_own(http: TestClient,
                                                            ask: dict[str, Any]) -> None:
    response = http.get("/policy.json", **ask)
    assert response.status_code == 200
    assert response.headers["content-language"] == "en"
    assert response.json()["language"] == "en"
    assert response.json()["languages"] == ["en", "bg", "fr", "nb", "sv"]


def test_lang_wins_over_accept_language(http: TestClient) -> None:
    response = http.get("/policy.json", params={"lang": "en"},
                        headers={"Accept-Language": "fr"})
    assert response.json()["language"] == "en"


def test_accept_language_is_read_by_weight() -> None:
    assert requested_languages("de;q=0.2, fr-BE, en;q=0.8, *;q=0.1, nl;q=0") == [
        "fr-BE", "en", "de"]
    assert requested_languages("") == []
    assert requested_languages("fr;q=bad, en") == ["en"]
    assert choose_language(["en", "fr"], ["de", "FR-ca"]) == "fr"
    assert choose_language(["en", "fr-BE"], ["fr-be"]) == "fr-BE"
    assert choose_language(["en", "fr"], ["de"]) == "en"
    assert choose_language(["en", "fr"], []) == "en"
    assert choose_language(["en", "nb"], ["no-NO"]) == "nb"


def test_the_page_escapes_every_value() -> None:
    document = {"language": "en", "languages": ["en"], "title": "<b>Notice</b>",
                "policyVersion": "1", "controller": {
                    "name": "A & B", "address": {"streetAddress": "<i>1</i>"},
                    "phone": "+1", "email": "x@example.org\" onclick=\"", "contact": "c"},
                "purposes": [{"purpose": "p\"", "title": "<script>", "notice": "</p>",
                              "categories": [{"title": "<li>"}]}]}
    html = page(document)
    for raw in ("<b>", "<script>", "<i>", "<li><li>", 'onclick="'):
        assert raw not in html
    assert "A &amp; B" in html and "&lt;script&gt;" in html and "<p>&lt;/p&gt;</p>" in html
