"""The languages members are served in (pages, mail, notices, the export summary,
receipts), which one to use, and the Babel catalogues of member-facing text.

English is the source text; Swedish, Norwegian Bokmål and Bulgarian have catalogues. A
member's ``preferredLanguage`` wins, then the browser's ``Accept-Language``, then English.
Catalogues are ``.po`` files compiled in memory on first use (no build step, no ``.mo``).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DEFAULT = "en"
MEMBER_LANGUAGES = ("en", "sv", "nb", "bg")
# Tags that mean a language we have under another name: Norwegian is written in Bokmål
# here (members reading Nynorsk read Bokmål too).
ALIASES = {"no": "nb", "nn": "nb"}
# The mail and export summary catalogues (domain ``mail``); the pages have their own.
MAIL_LOCALES = Path(__file__).resolve().parent / "locales"


def supported(tag: str | None) -> str | None:
    """The language we have for a BCP 47 tag (``sv-FI`` -> ``sv``), or ``None``."""
    if not tag:
        return None
    primary = tag.strip().split("-")[0].split("_")[0].lower()
    primary = ALIASES.get(primary, primary)
    return primary if primary in MEMBER_LANGUAGES else None


def accepted(header: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (q=0 left out)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def first_supported(tags: Iterable[str | None]) -> str:
    """The first of ``tags`` we have, else English."""
    for tag in tags:
        language = supported(tag)
        if language is not None:
            return language
    return DEFAULT


def choose(preferred: str | None, accept_language: str | None) -> str:
    """The member's preferred language if we have it, else the browser's, else English."""
    return first_supported((preferred, *accepted(accept_language)))


@functools.cache
def catalogue(directory: Path, domain: str, language: str) -> NullTranslations:
    """The ``domain`` catalogue of one member language under ``directory`` (shared: do not
    change it)."""
    return compile_catalogue(directory, domain, language)


def compile_catalogue(directory: Path, domain: str, language: str) -> NullTranslations:
    """A new copy of the ``domain`` catalogue of one member language, compiled from its
    ``.po`` file (for a caller that merges others into it)."""
    if language == DEFAULT:
        return NullTranslations()
    if language not in MEMBER_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    with (directory / language / "LC_MESSAGES" / f"{domain}.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=domain)


def mail(language: str | None) -> NullTranslations:
    """The ``mail`` catalogue (mail to members, the export summary) of a language; an
    unknown or missing language gets English."""
    return catalogue(MAIL_LOCALES, "mail", supported(language) or DEFAULT)


def N_(message: str) -> str:  # noqa: N802  (the gettext convention for "translate later")
    """Marks a message for a catalogue; it is translated where it is used."""
    return message
