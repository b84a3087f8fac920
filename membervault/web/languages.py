"""The privacy centre's languages: Babel catalogues, and which one a request is answered in.

The member's ``preferredLanguage`` wins (learned when their profile is read, kept in the
session), then the browser's ``Accept-Language``, then English. Catalogues are the
``.po`` files under ``locales/``, compiled in memory on first use (no build step).
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DEFAULT = "en"
SUPPORTED = ("en", "sv", "nb", "bg")
LOCALES = Path(__file__).resolve().parent / "locales"
# Tags that mean a language we have under another name: Norwegian is written in Bokmål
# here (members reading Nynorsk read Bokmål too).
ALIASES = {"no": "nb", "nn": "nb"}


def supported(tag: str | None) -> str | None:
    """The language we have for a BCP 47 tag (``sv-FI`` -> ``sv``), or ``None``."""
    if not tag:
        return None
    primary = tag.strip().split("-")[0].split("_")[0].lower()
    primary = ALIASES.get(primary, primary)
    return primary if primary in SUPPORTED else None


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


def choose(preferred: str | None, accept_language: str | None) -> str:
    """The member's preferred language if we have it, else the browser's, else English."""
    for tag in (preferred, *accepted(accept_language)):
        language = supported(tag)
        if language is not None:
            return language
    return DEFAULT


@functools.cache
def translations(language: str) -> NullTranslations:
    """The catalogue of one supported language (English is the source text)."""
    return compiled(language)


def compiled(language: str, domain: str = "messages") -> NullTranslations:
    """A new copy of one domain's catalogue (``messages``: the privacy centre's,
    ``console``: the officer console's), compiled from its ``.po`` file."""
    if language == DEFAULT:
        return NullTranslations()
    if language not in SUPPORTED:
        raise ValueError(f"unsupported language {language!r}")
    with (LOCALES / language / "LC_MESSAGES" / f"{domain}.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=domain)


def N_(message: str) -> str:  # noqa: N802  (the gettext convention for "translate later")
    """Marks a message for the catalogue; it is translated when rendered."""
    return message
