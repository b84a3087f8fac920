"""What the policy file says to members, besides purposes and categories: the controller's
postal address and phone, the notice's language, and its translations.

Parsed here and checked like the rest of the policy (a :class:`NoticeError` names the
entry; :mod:`vaultkernel.policy` turns it into a ``PolicyError``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
PHONE_PUNCTUATION = re.compile(r"[ ()./-]")
COUNTRY = re.compile(r"^[A-Z]{2}$")


class NoticeError(ValueError):
    def __init__(self, entry: str, problem: str):
        super().__init__(problem)
        self.entry, self.problem = entry, problem


@dataclass(frozen=True)
class PostalAddress:
    street: str
    locality: str
    country: str  # ISO 3166 alpha-2
    postal_code: str = ""
    region: str = ""

    def one_line(self) -> str:
        town = " ".join(p for p in (self.postal_code, self.locality) if p)
        return ", ".join(p for p in (self.street, town, self.region, self.country) if p)


@dataclass(frozen=True)
class PurposeText:
    title: str
    notice: str


@dataclass(frozen=True)
class Translation:
    """The notice in another language: the page title, every purpose's title and notice,
    every category's title."""

    language: str
    title: str
    purposes: dict[str, PurposeText] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)


def _text(table: dict[str, Any], key: str, entry: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise NoticeError(entry, f"'{key}' must be a non-empty string")
    return value


def _only(table: dict[str, Any], allowed: set[str], entry: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise NoticeError(entry, f"unknown keys {', '.join(extra)}")


def postal_address(value: Any, entry: str = "[policy]") -> PostalAddress:
    """``controller_address = { street, locality, postal_code, region, country }``."""
    if not isinstance(value, dict):
        raise NoticeError(entry, "'controller_address' must be a table: { street = ..., "
                          "locality = ..., postal_code = ..., country = \"BE\" }")
    where = f"{entry} controller_address"
    _only(value, {"street", "locality", "postal_code", "region", "country"}, where)
    country = _text(value, "country", where)
    if not COUNTRY.match(country):
        raise NoticeError(where, "'country' must be an ISO 3166 alpha-2 code such as 'BE'")
    optional = {k: value.get(k, "") for k in ("postal_code", "region")}
    if not all(isinstance(v, str) for v in optional.values()):
        raise NoticeError(where, "'postal_code' and 'region' must be strings")
    return PostalAddress(street=_text(value, "street", where),
                         locality=_text(value, "locality", where), country=country,
                         **optional)


def phone_number(value: Any, entry: str = "[policy]") -> str:
    """An international number (``+32 2 555 01 00``): kept as written, checked as E.164."""
    if not isinstance(value, str) or not PHONE.match(PHONE_PUNCTUATION.sub("", value)):
        raise NoticeError(entry, "'controller_phone' must be an international number such "
                          "as '+32 2 555 01 00'")
    return value


def language_tag(value: Any, key: str, entry: str = "[policy]") -> str:
    if not isinstance(value, str) or not LANGUAGE_TAG.match(value):
        raise NoticeError(entry, f"'{key}' must be a language tag such as 'en' or 'fr-BE'")
    return value


def translations(tables: Any, *, language: str, purposes: Collection[str],
                 categories: Collection[str]) -> dict[str, Translation]:
    """``[translations.<language>]``: each a complete notice (every purpose, every
    category), in a language other than the policy's own."""
    if not isinstance(tables, dict):
        raise NoticeError("[translations]", "must be a table of languages")
    found: dict[str, Translation] = {}
    for tag, table in tables.items():
        entry = f"translations.{tag}"
        language_tag(tag, "language", entry)
        if tag.lower() == language.lower():
            raise NoticeError(entry, f"'{language}' is the policy's own language")
        if not isinstance(table, dict):
            raise NoticeError(entry, "must be a table")
        _only(table, {"title", "purposes", "categories"}, entry)
        texts = table.get("purposes", {})
        names = table.get("categories", {})
        if not isinstance(texts, dict) or not isinstance(names, dict):
            raise NoticeError(entry, "'purposes' and 'categories' must be tables")
        _covers(texts, purposes, f"{entry}.purposes", "purpose")
        _covers(names, categories, f"{entry}.categories", "category")
        purpose_texts = {}
        for key, text in texts.items():
            where = f"{entry}.purposes.{key}"
            if not isinstance(text, dict):
                raise NoticeError(where, "must be { title = ..., notice = ... }")
            _only(text, {"title", "notice"}, where)
            purpose_texts[key] = PurposeText(_text(text, "title", where),
                                             _text(text, "notice", where))
        category_titles = {key: _text(names, key, f"{entry}.categories") for key in names}
        found[tag] = Translation(tag, _text(table, "title", entry), purpose_texts,
                                 category_titles)
    return found


def _covers(given: dict[str, Any], expected: Collection[str], entry: str, noun: str) -> None:
    unknown = sorted(set(given) - set(expected))
    if unknown:
        raise NoticeError(entry, f"unknown {noun} {', '.join(unknown)}")
    missing = sorted(set(expected) - set(given))
    if missing:
        raise NoticeError(entry, f"no translation of {', '.join(missing)}")
