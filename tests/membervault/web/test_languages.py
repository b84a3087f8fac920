"""The privacy centre in en, sv, nb and bg: the member's preferred language, then the
browser's, then English; complete catalogues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from membervault.web import languages
from tests.conftest import Api, register
from tests.membervault.web.support import Visitor

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "membervault" / "web"


@pytest.mark.parametrize(("preferred", "header", "chosen"), [
    (None, None, "en"),
    (None, "sv-SE,sv;q=0.9,en;q=0.8", "sv"),
    (None, "de-DE, nb;q=0.5, bg;q=0.7", "bg"),
    (None, "no", "nb"),
    (None, "nn-NO", "nb"),
    (None, "fr, de;q=0.5", "en"),
    (None, "sv;q=0, bg", "bg"),
    (None, "*", "en"),
    ("bg", "sv", "bg"),
    ("fr-CA", "sv", "sv"),
    ("en-GB", "bg", "en"),
])
def test_the_language_is_chosen(preferred: str | None, header: str | None,
                                chosen: str) -> None:
    assert languages.choose(preferred, header) == chosen


def extracted() -> set[str]:
    method_map = [("membervault/web/**.py", "python"),
                  ("membervault/web/templates/**.html", "jinja2")]
    options = {"membervault/web/templates/**.html": {"extensions": "jinja2.ext.i18n",
                                                     "trimmed": "true"}}
    found = set()
    for _, _, message, *_ in extract_from_dir(str(ROOT), method_map, options,
                                             keywords={"N_": None, "_": None,
                                                       "gettext": None}):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_template_catalogue_is_up_to_date() -> None:
    with (WEB / "locales" / "messages.pot").open("rb") as pot:
        catalogue = {m.id for m in read_po(pot) if m.id}
    assert extracted() == catalogue, "run make messages and translate what is new"


@pytest.mark.parametrize("language", ["sv", "nb", "bg"])
def test_every_text_is_translated(language: str) -> None:
    with (WEB / "locales" / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = read_po(po, locale=language)
    texts = {m.id: m for m in catalogue if m.id}
    assert set(texts) == extracted()
    for message in texts.values():
        assert message.string and not message.fuzzy, (language, message.id)
        assert ("%(day)s" in message.string) == ("%(day)s" in str(message.id))
        assert message.string != message.id or message.id in {"Region", "Status"}, message.id


@pytest.mark.parametrize(("header", "lang", "button"), [
    ("sv-SE,sv;q=0.9", "sv", "Skicka en kod"),
    ("nb-NO", "nb", "Send meg en kode"),
    ("no", "nb", "Send meg en kode"),
    ("bg-BG,bg", "bg", "Изпратете ми код"),
    ("en-US", "en", "Send me a code"),
])
def test_the_pages_speak_the_browsers_language(visitor: Visitor, header: str, lang: str,
                                               button: str) -> None:
    page = visitor.get("/privacy/", headers={"accept-language": header}).text
    assert f'<html lang="{lang}">' in page
    assert f'<button type="submit">{button}</button>' in page


def test_the_members_preferred_language_wins(visitor: Visitor, loyalty_api: Api,
                                             mailbox: Path) -> None:
    assert register(loyalty_api, email="ivana@example.org", phone="07400 555111",
                    preferredLanguage="bg")["errors"] == []
    headers = {"accept-language": "sv"}
    visitor.http.headers.update(headers)
    assert '<html lang="sv">' in visitor.get("/privacy/").text
    profile = visitor.follow(visitor.sign_in("ivana@example.org", mailbox))
    assert "Subject: Вашият код за вход в membervault" in mailbox.read_text()
    assert '<html lang="bg">' in profile.text and "Вашите данни" in profile.text
    consents = visitor.get("/privacy/consents").text
    assert '<html lang="bg">' in consents
    # the policy's notice in Bulgarian too
    assert '<h2 id="title-marketing.email">Оферти по имейл</h2>' in consents
    assert "Вашето съгласие: правим това само ако кажете" in consents


def test_dates_are_written_the_languages_way(jane_web: Visitor, jane: dict[str, Any]) -> None:
    jane_web.post("/privacy/consents", {"action": "grant", "purpose": "marketing.email",
                                        "notice_version": "1"})
    page = jane_web.get("/privacy/profile", headers={"accept-language": "sv"}).text
    assert "3 februari 1990" not in page  # Jane prefers en-GB, read from her profile
    jane_web.post("/privacy/profile", {**_jane_form(), "preferred_language": "sv"})
    assert "3 februari 1990" in jane_web.get("/privacy/profile").text


def _jane_form() -> dict[str, str]:
    from tests.membervault.web.support import profile_form

    return profile_form()


def test_the_language_chooser_wins_for_the_session(visitor: Visitor, loyalty_api: Api,
                                                   mailbox: Path) -> None:
    assert register(loyalty_api, email="ivana@example.org", phone="07400 555111",
                    preferredLanguage="bg")["errors"] == []
    visitor.http.headers.update({"accept-language": "sv"})
    page = visitor.get("/privacy/").text
    assert '<button type="submit" class="link" name="language" value="nb" lang="nb">' \
        "Norsk bokmål</button>" in page
    chosen = visitor.post("/privacy/language", {"language": "nb", "next": "/privacy/"})
    assert chosen.headers["location"] == "/privacy/"
    assert '<html lang="nb">' in visitor.follow(chosen).text
    profile = visitor.follow(visitor.sign_in("ivana@example.org", mailbox))
    assert '<html lang="nb">' in profile.text  # picked here: wins over her preference
    again = visitor.post("/privacy/language", {"language": "bg", "next": "/privacy/consents"})
    consents = visitor.follow(again).text
    assert '<html lang="bg">' in consents and "Оферти по имейл" in consents
    assert '<a href="/policy?lang=bg" hreflang="bg">' in consents


@pytest.mark.parametrize("back", ["https://evil.example/", "//evil.example/privacy",
                                  "/graphql", "/privacy/../graphql", "/privacy/?x=1", ""])
def test_the_chooser_goes_back_only_to_a_page_of_the_centre(visitor: Visitor,
                                                            back: str) -> None:
    visitor.get("/privacy/")
    response = visitor.post("/privacy/language", {"language": "sv", "next": back})
    assert response.status_code == 303 and response.headers["location"] == "/privacy/"


def test_an_unknown_language_changes_nothing(visitor: Visitor) -> None:
    visitor.get("/privacy/")
    visitor.post("/privacy/language", {"language": "xx", "next": "/privacy/"})
    assert '<html lang="en">' in visitor.get("/privacy/").text


def test_a_consent_records_the_language_and_hash_of_the_notice_read(
        jane_web: Visitor, jane: dict[str, Any], services: Any) -> None:
    import uuid

    from consent.notices import notice_hash
    from consent.service import consent_history

    jane_web.post("/privacy/language", {"language": "sv", "next": "/privacy/consents"})
    page = jane_web.get("/privacy/consents").text
    assert "Erbjudanden via e-post" in page
    assert '<input type="hidden" name="notice_language" value="sv">' in page
    jane_web.post("/privacy/consents", {"action": "grant", "purpose": "marketing.email",
                                        "notice_version": "1", "notice_language": "sv"})
    with services.db.unit_of_work() as uow:
        record = consent_history(uow, uuid.UUID(jane["id"]))[-1]
    purpose = services.policy.purposes["marketing.email"]
    assert (record.language, record.notice_hash) == (
        "sv", notice_hash(services.policy, purpose, "sv"))
    receipts = jane_web.get("/privacy/receipts").text
    assert "Erbjudanden via e-post" in receipts
    link = receipts.split('href="/privacy/receipts/')[1][:36]
    jane_web.post("/privacy/language", {"language": "en", "next": "/privacy/receipts"})
    page = jane_web.get(f"/privacy/receipts/{link}").text
    assert '<html lang="en">' in page
    assert '<pre lang="sv"><code>' in page  # the receipt's texts are Swedish, as read


def test_the_export_summary_is_in_the_members_language(jane_web: Visitor, jane: dict[str, Any],
                                                       services: Any) -> None:
    import io
    import re
    import zipfile

    from subject_requests import access
    from vaultkernel.clock import utcnow

    jane_web.post("/privacy/profile", {**_jane_form(), "preferred_language": "sv"})
    jane_web.post("/privacy/requests", {"type": "access"})
    assert access.build_pending_exports(services.db, services.exports, now=utcnow()) == 1
    page = jane_web.get("/privacy/requests").text
    link = re.search(r'href="(/privacy/requests/[^"]+/export)"', page)
    assert link, page
    archive = zipfile.ZipFile(io.BytesIO(jane_web.get(link.group(1)).content))
    summary = archive.read("summary.md").decode()
    assert summary.startswith("# Dina uppgifter hos Example Retail Ltd")
    assert "## Varför vi behandlar dina uppgifter och med vilken rättslig grund" in summary
    assert "| Erbjudanden via e-post (`marketing.email`) |" in summary
    assert "ditt samtycke (GDPR art. 6.1 a)" in summary
    assert "- **Rättelse** (GDPR Art. 16)" in summary
    # member.json stays the machine-readable record, in the schema's words
    assert '"legalBasisText":"your consent' in archive.read("member.json").decode().replace(
        ": ", ":")
