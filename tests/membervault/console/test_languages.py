"""The console in en, sv, nb and bg: its own Babel domain (``console``), complete, and
the shared layout in the page's language too."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from membervault.services import Services
from tests.membervault.console.support import Officer
from tests.membervault.web.support import Visitor

ROOT = Path(__file__).resolve().parents[3]
LOCALES = ROOT / "membervault" / "web" / "locales"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def extracted() -> set[str]:
    templates = "membervault/console/templates/**.html"
    method_map = [("membervault/console/**.py", "python"), (templates, "jinja2")]
    options = {templates: {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    found = set()
    for _, _, message, *_ in extract_from_dir(str(ROOT), method_map, options,
                                             keywords={"N_": None, "_": None,
                                                       "gettext": None}):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_console_catalogue_is_up_to_date() -> None:
    with (LOCALES / "console.pot").open("rb") as pot:
        catalogue = {m.id for m in read_po(pot) if m.id}
    assert extracted() == catalogue, "run make messages and translate what is new"


@pytest.mark.parametrize("language", ["sv", "nb", "bg"])
def test_every_console_text_is_translated(language: str) -> None:
    with (LOCALES / language / "LC_MESSAGES" / "console.po").open("rb") as po:
        catalogue = read_po(po, locale=language)
    texts = {m.id: m for m in catalogue if m.id}
    assert set(texts) == extracted()
    for message in texts.values():
        assert message.string and not message.fuzzy, (language, message.id)
        assert (sorted(PLACEHOLDER.findall(message.string))
                == sorted(PLACEHOLDER.findall(str(message.id)))), message.id


@pytest.mark.parametrize(("header", "lang", "heading"), [
    ("sv-SE,sv;q=0.9", "sv", "Logga in i handläggarkonsolen"),
    ("nb-NO", "nb", "Logg inn i saksbehandlerkonsollen"),
    ("no", "nb", "Logg inn i saksbehandlerkonsollen"),
    ("bg", "bg", "Вход в конзолата на служителя"),
    ("en-GB", "en", "Sign in to the officer console"),
])
def test_the_console_speaks_the_browsers_language(officers: Callable[[], Officer],
                                                  header: str, lang: str,
                                                  heading: str) -> None:
    page = officers().get("/console/", headers={"accept-language": header}).text
    assert f'<html lang="{lang}">' in page and f"<h1>{heading}</h1>" in page
    # the shared layout's texts come from the privacy centre's catalogue
    assert ("Skip to content" in page) == (lang == "en")


def test_the_queue_in_swedish(officer_web: Officer) -> None:
    page = officer_web.get("/console/requests", headers={"accept-language": "sv"}).text
    assert "<h1>Begäranden</h1>" in page and "Handläggarkonsol" in page


@pytest.mark.parametrize(("language", "purpose", "category"), [
    ("sv", "Erbjudanden via e-post", "E-postadress"),
    ("nb", "Tilbud på e-post", "E-postadresse"),
    ("bg", "Оферти по имейл", "Имейл адрес"),
    ("en", "Offers by email", "Email address"),
])
def test_policy_titles_are_in_the_chosen_language(
        officer_web: Officer, jane: dict[str, Any], jane_consented: Visitor,
        language: str, purpose: str, category: str) -> None:
    headers = {"accept-language": language}
    history = officer_web.get(f"/console/members/{jane['id']}/consents", headers=headers).text
    assert f'<span>{purpose}</span> <span class="id">(marketing.email)</span>' in history
    holds = officer_web.get(f"/console/members/{jane['id']}/holds", headers=headers).text
    assert f'<span>{category}</span> <span class="id">(contact.email)</span>' in holds


def test_policy_titles_fall_back_to_the_policys_language(
        officer_web: Officer, services: Services, jane: dict[str, Any],
        jane_consented: Visitor, monkeypatch: pytest.MonkeyPatch) -> None:
    untranslated = {k: v for k, v in services.policy.translations.items() if k != "sv"}
    monkeypatch.setattr(services, "policy", dataclasses.replace(
        services.policy, translations=untranslated))
    headers = {"accept-language": "sv"}
    history = officer_web.get(f"/console/members/{jane['id']}/consents", headers=headers).text
    assert '<span lang="en">Offers by email</span>' in history
    assert "Erbjudanden" not in history
    holds = officer_web.get(f"/console/members/{jane['id']}/holds", headers=headers).text
    assert '<span lang="en">Email address</span>' in holds
