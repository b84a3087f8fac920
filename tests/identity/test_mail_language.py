"""Mail to a member is in their preferred language (``preferredLanguage``), else in the
language the code was asked in (the page's, or ``Accept-Language``), else English; the
``mail`` catalogues are complete."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from starlette.testclient import TestClient

from tests.conftest import Api, register
from vaultkernel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MAIL = ROOT / "vaultkernel" / "locales"


def last_mail(settings: Settings) -> str:
    return Path(settings.mailbox_file).read_text().rsplit("To: ", 1)[1]


@pytest.mark.parametrize(("preferred", "header", "subject", "body"), [
    ("sv-SE", None, "Din inloggningskod till membervault", "Din inloggningskod är "),
    ("bg", "nb", "Вашият код за вход в membervault", "Вашият код за вход е "),
    (None, "nb-NO,nb;q=0.9", "Innloggingskoden din til membervault",
     "Innloggingskoden din er "),
    ("fr", "de, sv;q=0.5", "Din inloggningskod till membervault", "Din inloggningskod är "),
    (None, None, "Your membervault sign-in code", "Your sign-in code is "),
])
def test_the_sign_in_code_is_mailed_in_the_members_language(
        http: TestClient, settings: Settings, loyalty_api: Api, preferred: str | None,
        header: str | None, subject: str, body: str) -> None:
    extra = {"preferredLanguage": preferred} if preferred else {"preferredLanguage": None}
    member = register(loyalty_api, email="ola@example.org", phone="07400 555222", **extra)
    assert member["errors"] == []
    headers = {"accept-language": header} if header else {}
    assert http.post("/auth/member/code", json={"email": "ola@example.org"},
                     headers=headers).status_code == 202
    mail = last_mail(settings)
    assert f"Subject: {subject}\n" in mail and body in mail
    assert re.search(r"\b\d{6}\b", mail)  # the code, whatever the language


def extracted() -> set[str]:
    method_map = [(f, "python") for f in ("membervault/handlers/sign_in.py",
                                          "retention/sweeper.py", "export/disclosure.py")]
    return {message if isinstance(message, str) else message[0]
            for _, _, message, *_ in extract_from_dir(str(ROOT), method_map,
                                                      keywords={**DEFAULT_KEYWORDS,
                                                                "N_": None})}


def singular(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def test_the_mail_catalogue_is_up_to_date() -> None:
    with (MAIL / "mail.pot").open("rb") as pot:
        catalogue = {singular(m.id) for m in read_po(pot) if m.id}
    assert extracted() == catalogue, "run make messages and translate what is new"


@pytest.mark.parametrize("language", ["sv", "nb", "bg"])
def test_every_mail_text_is_translated(language: str) -> None:
    with (MAIL / language / "LC_MESSAGES" / "mail.po").open("rb") as po:
        catalogue = read_po(po, locale=language)
    texts = {singular(m.id): m for m in catalogue if m.id}
    assert set(texts) == extracted()
    for message in texts.values():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        assert all(strings) and not message.fuzzy, (language, message.id)
        assert strings != ids or message.id in {"data", "ES256"}, message.id
        for placeholder in ("%(code)s", "%(minutes)d", "%(days)d", "%(n)d", "%(when)s",
                            "%(archive)s", "%(controller)s", "%(contact)s", "%(version)s"):
            for text in strings:
                assert (placeholder in text) == (placeholder in ids[0]), (language, message.id)


def test_a_member_without_a_readable_language_gets_english(
        http: TestClient, settings: Settings, jane: dict[str, Any]) -> None:
    assert http.post("/auth/member/code", json={"email": jane["email"]}).status_code == 202
    assert "Subject: Your membervault sign-in code" in last_mail(settings)
