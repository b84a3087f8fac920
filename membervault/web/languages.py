"""The privacy centre's languages: the page catalogues (domain ``messages``), and which
one a request is answered in (:mod:`vaultkernel.languages` chooses: an explicit choice in
the page's language chooser, then the member's ``preferredLanguage``, then the browser's
``Accept-Language``, then English)."""

from __future__ import annotations

from pathlib import Path

from babel.support import NullTranslations

from vaultkernel.languages import (
    ALIASES,
    DEFAULT,
    MEMBER_LANGUAGES,
    N_,
    accepted,
    catalogue,
    choose,
    compile_catalogue,
    first_supported,
    supported,
)

SUPPORTED = MEMBER_LANGUAGES
LOCALES = Path(__file__).resolve().parent / "locales"
# Each language's name in itself, for the language chooser.
NAMES = {"en": "English", "sv": "Svenska", "nb": "Norsk bokmål", "bg": "Български"}

__all__ = ["ALIASES", "DEFAULT", "LOCALES", "NAMES", "N_", "SUPPORTED", "accepted", "choose",
           "compiled", "first_supported", "supported", "translations"]


def translations(language: str) -> NullTranslations:
    """The page catalogue of one supported language (English is the source text)."""
    return catalogue(LOCALES, "messages", language)


def compiled(language: str, domain: str = "messages") -> NullTranslations:
    """A new copy of one domain's catalogue (``messages``: the privacy centre's,
    ``console``: the officer console's), for a caller that merges another into it."""
    return compile_catalogue(LOCALES, domain, language)
