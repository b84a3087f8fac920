"""Rendering the privacy centre's pages: one Jinja2 environment per language, autoescaped,
with Babel's date formats; every page is answered ``no-store`` (see :mod:`.headers`)."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.support import NullTranslations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from membervault.web import languages, sessions, words
from membervault.web.notices import NOTICES
from vaultkernel.policy import Policy

TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def environment(language: str) -> Environment:
    return build_environment([TEMPLATES], languages.translations(language), language)


def build_environment(search_path: list[Path], translations: NullTranslations,
                      language: str) -> Environment:
    """Autoescaped templates from ``search_path`` (the first that has a name wins; this
    package's layout last), in ``language``."""
    env = Environment(loader=FileSystemLoader(search_path), autoescape=select_autoescape(),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations,  # type: ignore[attr-defined]
                                     newstyle=True)
    env.filters["when"] = functools.partial(_when, language=language)
    env.filters["day"] = functools.partial(_day, language=language)
    return env


def _when(value: dt.datetime, *, language: str) -> str:
    return format_datetime(value, "medium", tzinfo=dt.UTC, locale=language) + " UTC"


def _day(value: dt.date | dt.datetime, *, language: str) -> str:
    return format_date(value, "long", locale=language)


def language_of(request: Request) -> str:
    """The chooser's pick, else the member's preferred language, else the browser's
    (``Accept-Language``), else English."""
    return languages.first_supported((
        sessions.chosen_language(request), sessions.preferred_language(request),
        *languages.accepted(request.headers.get("accept-language"))))


def gettext(request: Request, message: str) -> str:
    """A message of the catalogue in the request's language (for text built in Python)."""
    return languages.translations(language_of(request)).gettext(message)


def render(request: Request, template: str, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    language = language_of(request)
    page = environment(language).get_template(template)
    notice = sessions.take_notice(request)
    policy: Policy = request.app.state.services.policy
    notice_lang = policy.notice_language(language)
    html = page.render(lang=language, notice_lang=notice_lang,
                       purpose_title=lambda key: words.purpose_title(key, policy, notice_lang),
                       languages=[(tag, languages.NAMES[tag]) for tag in languages.SUPPORTED],
                       csrf_token=sessions.csrf_token(request),
                       signed_in=sessions.member_of(request) is not None,
                       notice=NOTICES.get(notice) if notice else None,
                       path=request.url.path, **context)
    return HTMLResponse(html, status_code=status_code)
