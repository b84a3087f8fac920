"""The policy file: data categories, purposes, clients and retention rules ("privacy as
code"), validated at start-up.

Errors name the file, the entry and the problem; the service does not start on an
invalid policy. The member attributes a category may name are given by the caller (the
composition root passes the member table's personal fields), so the kernel knows no domain.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vaultkernel import notices, processing_parties
from vaultkernel.notices import NoticeError, PostalAddress, PurposeText, Translation
from vaultkernel.processing_parties import PartiesError, Processor, Transfer
from vaultkernel.receipt_vocabularies import PII_CATEGORIES, PURPOSE_CATEGORIES
from vaultkernel.retention_rules import RetentionRule, RuleError, parse_rule

LEGAL_BASES = ("consent", "contract", "legitimate_interest", "legal_obligation")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PolicyError(Exception):
    def __init__(self, source: str, entry: str, problem: str):
        super().__init__(f"{source}: {entry}: {problem}")
        self.source, self.entry, self.problem = source, entry, problem


@dataclass(frozen=True)
class Category:
    key: str
    title: str
    attributes: tuple[str, ...]
    # The Kantara Consent Receipt v1.1 PII categories it belongs to (receipts' piiCategory).
    pii_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Purpose:
    key: str
    legal_basis: str
    categories: tuple[str, ...]
    title: str
    notice: str
    notice_version: int
    # A material notice change makes grants of earlier notice versions stale.
    material_change: bool = False
    sale_or_sharing: bool = False
    # The purpose members are registered for, and their activity recorded under.
    membership: bool = False
    # Direct marketing: a withdrawal puts the address on the suppression list at erasure.
    direct_marketing: bool = False
    # The Kantara Consent Receipt v1.1 purpose categories (receipts' purposeCategory).
    purpose_categories: tuple[str, ...] = ()

    @property
    def consent_based(self) -> bool:
        return self.legal_basis == "consent"

    @property
    def objectable(self) -> bool:
        return self.legal_basis == "legitimate_interest"

    def grant_is_current(self, granted_version: int) -> bool:
        return not self.material_change or granted_version >= self.notice_version


@dataclass(frozen=True)
class ClientSpec:
    client_id: str
    name: str
    kind: str
    purposes: tuple[str, ...]
    collects_consent: bool = False


@dataclass(frozen=True)
class Policy:
    version: str
    controller: str
    jurisdiction: str
    dpo_contact: str
    categories: dict[str, Category]
    purposes: dict[str, Purpose]
    clients: dict[str, ClientSpec]
    source: str
    retention: dict[str, RetentionRule] = field(default_factory=dict)
    transfers: str = "none"
    # Who else processes member data and where (vaultkernel.processing_parties): the
    # processors (Art. 28) and the transfers to third countries with their safeguards
    # (Art. 44-49).
    processors: dict[str, Processor] = field(default_factory=dict)
    third_country_transfers: dict[str, Transfer] = field(default_factory=dict)
    # The IANA time zone the controller counts deadlines in (a day ends at midnight there).
    time_zone: str = "UTC"
    # Public holidays per jurisdiction code (as data subject requests name it).
    holidays: dict[str, frozenset[dt.date]] = field(default_factory=dict)
    # Where and how to reach the controller (receipts, the notice at /policy).
    controller_address: PostalAddress | None = None
    controller_phone: str = ""
    # The language of the titles and notices above, and the notice in other languages.
    language: str = "en"
    notice_title: str = "Privacy notice"
    translations: dict[str, Translation] = field(default_factory=dict)
    # The service members consent within (receipts' services[].service).
    service: str = ""
    # Where member data is stored, in words (receipts' storage_locations).
    storage_locations: tuple[str, ...] = ()

    @property
    def languages(self) -> list[str]:
        """The languages the notice is given in, the policy's own first."""
        return [self.language, *sorted(self.translations)]

    def notice_language(self, language: str | None) -> str:
        """The language of the notice a member reading ``language`` is shown: that
        language when the policy gives the notice in it, else the policy's own."""
        if language in self.translations:
            return language
        return self.language

    def purpose_text(self, key: str, language: str | None) -> PurposeText:
        """A purpose's title and notice in ``language`` (the policy's own language when
        the policy has no translation into it)."""
        translation = self.translations.get(self.notice_language(language))
        if translation is not None:
            return translation.purposes[key]
        purpose = self.purposes[key]
        return PurposeText(purpose.title, purpose.notice)

    def category_title(self, key: str, language: str | None) -> str:
        translation = self.translations.get(self.notice_language(language))
        return translation.categories[key] if translation else self.categories[key].title

    def attributes_of(self, purpose: str) -> frozenset[str]:
        return frozenset(a for c in self.purposes[purpose].categories
                         for a in self.categories[c].attributes)

    def category_of(self, attribute: str) -> str:
        return next(c.key for c in self.categories.values() if attribute in c.attributes)

    @property
    def sale_or_sharing(self) -> list[Purpose]:
        return [p for p in self.purposes.values() if p.sale_or_sharing]

    @property
    def membership(self) -> Purpose:
        """The one purpose flagged ``membership`` (validated at load)."""
        return next(p for p in self.purposes.values() if p.membership)

    @property
    def direct_marketing(self) -> list[str]:
        return [p.key for p in self.purposes.values() if p.direct_marketing]


def load_policy(path: str | Path, *, member_attributes: Collection[str],
                jurisdictions: Collection[str] = (), languages: Collection[str] = ()) -> Policy:
    source = Path(path)
    name = str(source)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(name, "file", "does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(name, "file", f"is not valid TOML ({exc})") from None
    return parse_policy(data, name, member_attributes=member_attributes,
                        jurisdictions=jurisdictions, languages=languages)


def _require(table: dict[str, Any], key: str, kind: type, source: str, entry: str) -> Any:
    if key not in table:
        raise PolicyError(source, entry, f"missing '{key}'")
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PolicyError(source, entry, f"'{key}' must be {kind.__name__}")
    return value


def _unknown(table: dict[str, Any], allowed: set[str], source: str, entry: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise PolicyError(source, entry, f"unknown keys {', '.join(extra)}")


def _flag(table: dict[str, Any], key: str, source: str, entry: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise PolicyError(source, entry, f"'{key}' must be true or false")
    return value


def _with_titles(rule: RetentionRule, categories: dict[str, Category],
                 purposes: dict[str, Purpose], source: str, key: str) -> RetentionRule:
    """Check a rule naming a category and a purpose against them, and give it their
    titles (what members read in their retention schedule)."""
    entry = f"retention.{key}"
    purpose_key = rule.withdrawn_purpose
    if purpose_key is None:
        return rule
    category = categories.get(rule.applies_to)
    if category is None:
        raise PolicyError(source, entry, f"unknown category '{rule.applies_to}'")
    purpose = purposes.get(purpose_key)
    if purpose is None or not purpose.consent_based:
        raise PolicyError(source, entry, f"'{purpose_key}' is not a consent-based purpose")
    if category.key not in purpose.categories:
        raise PolicyError(source, entry, f"purpose '{purpose_key}' does not use "
                          f"'{category.key}'")
    return replace(rule, category_title=category.title, purpose_title=purpose.title)


def _time_zone(meta: dict[str, Any], source: str) -> str:
    name = meta.get("time_zone", "UTC")
    if not isinstance(name, str):
        raise PolicyError(source, "[policy]", "'time_zone' must be str")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise PolicyError(source, "[policy]", f"'time_zone' {name!r} is not an IANA time zone "
                          "(e.g. 'Europe/Brussels')") from None
    return name


JURISDICTION_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,15}$")


def _holidays(table: Any, source: str,
              jurisdictions: Collection[str]) -> dict[str, frozenset[dt.date]]:
    """``[holidays]``: per jurisdiction code, a list of dates (TOML dates or YYYY-MM-DD)."""
    if not isinstance(table, dict):
        raise PolicyError(source, "[holidays]", "must be a table of jurisdiction = [dates]")
    holidays: dict[str, frozenset[dt.date]] = {}
    for code, dates in table.items():
        entry = f"holidays.{code}"
        if not JURISDICTION_CODE.match(code) or (jurisdictions and code not in jurisdictions):
            known = f" (one of {', '.join(sorted(jurisdictions))})" if jurisdictions else ""
            raise PolicyError(source, entry, f"unknown jurisdiction{known}")
        if not isinstance(dates, list):
            raise PolicyError(source, entry, "must be a list of dates")
        days: set[dt.date] = set()
        for value in dates:
            day = _date(value)
            if day is None:
                raise PolicyError(source, entry, f"{value!r} is not a date (YYYY-MM-DD)")
            if day in days:
                raise PolicyError(source, entry, f"{day.isoformat()} is listed twice")
            days.add(day)
        holidays[code] = frozenset(days)
    return holidays


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return None  # a moment, not a day
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _notices_in_every_language(purposes: dict[str, Purpose], own: str,
                               translated: dict[str, Translation], languages: Collection[str],
                               source: str) -> None:
    """GDPR Art. 7(2), 12(1): consent is asked in words the member reads, so a
    consent-based purpose needs its notice in every language members are served in."""
    given = {own.lower(), *(tag.lower() for tag in translated)}
    for key, purpose in purposes.items():
        if not purpose.consent_based:
            continue
        for wanted in languages:
            if wanted.lower() not in given:
                raise PolicyError(source, f"purposes.{key}",
                                  f"no notice in '{wanted}' (members are served in "
                                  f"{', '.join(languages)}): add [translations.{wanted}]")


def _vocabulary(table: dict[str, Any], key: str, vocabulary: tuple[str, ...], source: str,
                entry: str) -> tuple[str, ...]:
    """A non-empty list of names from one of the receipt vocabularies."""
    names = _require(table, key, list, source, entry)
    unknown = [n for n in names if n not in vocabulary]
    if not names or unknown:
        raise PolicyError(source, entry, f"'{key}' must name entries of the Kantara Consent "
                          f"Receipt v1.1 list ({', '.join(vocabulary)})"
                          + (f"; unknown: {', '.join(map(str, unknown))}" if unknown else ""))
    return tuple(dict.fromkeys(names))


def parse_policy(data: dict[str, Any], source: str, *, member_attributes: Collection[str],
                 jurisdictions: Collection[str] = (), languages: Collection[str] = ()) -> Policy:
    """``jurisdictions``: the codes ``[holidays]`` may name (any well-formed code if
    empty); like the member attributes, the caller knows them, the kernel does not.
    ``languages``: the languages members are served in; every consent-based purpose must
    have its notice in each (the policy's own language or a translation)."""
    _unknown(data, {"policy", "categories", "purposes", "clients", "retention", "holidays",
                    "translations", "processors", "third_country_transfers"}, source, "top level")
    meta = data.get("policy", {})
    version = str(_require(meta, "version", str, source, "[policy]"))
    controller = str(_require(meta, "controller", str, source, "[policy]"))
    jurisdiction = str(meta.get("jurisdiction", "EU"))
    dpo_contact = str(_require(meta, "dpo_contact", str, source, "[policy]"))
    if not EMAIL.match(dpo_contact):
        raise PolicyError(source, "[policy]", "'dpo_contact' must be an email address")
    transfers = str(meta.get("transfers", "none"))
    time_zone = _time_zone(meta, source)
    _unknown(meta, {"version", "controller", "jurisdiction", "dpo_contact", "transfers",
                    "time_zone", "controller_address", "controller_phone", "language",
                    "notice_title", "service", "storage_locations"}, source, "[policy]")
    try:
        address = notices.postal_address(_require(meta, "controller_address", dict, source,
                                                  "[policy]"))
        phone = notices.phone_number(_require(meta, "controller_phone", str, source,
                                              "[policy]"))
        language = notices.language_tag(meta.get("language", "en"), "language")
    except NoticeError as exc:
        raise PolicyError(source, exc.entry, exc.problem) from None
    notice_title = str(meta.get("notice_title", "Privacy notice"))
    service = str(meta.get("service", controller))
    storage_locations = meta.get("storage_locations", [])
    if not isinstance(storage_locations, list) or not all(
            isinstance(place, str) and place.strip() for place in storage_locations):
        raise PolicyError(source, "[policy]", "'storage_locations' must be a list of places")
    holidays = _holidays(data.get("holidays", {}), source, jurisdictions)

    categories: dict[str, Category] = {}
    seen_attributes: dict[str, str] = {}
    for key, table in data.get("categories", {}).items():
        entry = f"categories.{key}"
        _unknown(table, {"attributes", "title", "pii_categories"}, source, entry)
        attributes = tuple(_require(table, "attributes", list, source, entry))
        for attribute in attributes:
            if attribute not in member_attributes:
                raise PolicyError(source, entry, f"unknown member attribute '{attribute}'")
            if attribute in seen_attributes:
                raise PolicyError(source, entry,
                                  f"attribute '{attribute}' already in "
                                  f"{seen_attributes[attribute]}")
            seen_attributes[attribute] = key
        categories[key] = Category(key, _require(table, "title", str, source, entry), attributes,
                                   _vocabulary(table, "pii_categories", PII_CATEGORIES, source,
                                               entry))
    missing = sorted(set(member_attributes) - set(seen_attributes))
    if missing:
        raise PolicyError(source, "categories",
                          f"attributes without a category: {', '.join(missing)}")

    purposes: dict[str, Purpose] = {}
    for key, table in data.get("purposes", {}).items():
        entry = f"purposes.{key}"
        _unknown(table, {"legal_basis", "categories", "title", "notice", "notice_version",
                         "material_change", "sale_or_sharing", "membership",
                         "direct_marketing", "purpose_categories"}, source, entry)
        basis = _require(table, "legal_basis", str, source, entry)
        if basis not in LEGAL_BASES:
            raise PolicyError(source, entry, f"legal_basis must be one of {', '.join(LEGAL_BASES)}")
        cats = tuple(_require(table, "categories", list, source, entry))
        for cat in cats:
            if cat not in categories:
                raise PolicyError(source, entry, f"unknown category '{cat}'")
        version_no = _require(table, "notice_version", int, source, entry)
        if version_no < 1:
            raise PolicyError(source, entry, "notice_version must be at least 1")
        if table.get("sale_or_sharing") and basis != "consent":
            raise PolicyError(source, entry, "a sale_or_sharing purpose must be consent-based")
        if table.get("direct_marketing") and basis != "consent":
            raise PolicyError(source, entry, "a direct_marketing purpose must be consent-based")
        if table.get("membership") and basis != "contract":
            raise PolicyError(source, entry, "the membership purpose must have legal_basis "
                              "'contract'")
        purposes[key] = Purpose(
            key=key, legal_basis=basis, categories=cats,
            title=_require(table, "title", str, source, entry),
            notice=_require(table, "notice", str, source, entry),
            notice_version=version_no,
            material_change=_flag(table, "material_change", source, entry),
            sale_or_sharing=_flag(table, "sale_or_sharing", source, entry),
            membership=_flag(table, "membership", source, entry),
            direct_marketing=_flag(table, "direct_marketing", source, entry),
            purpose_categories=_vocabulary(table, "purpose_categories", PURPOSE_CATEGORIES,
                                           source, entry),
        )
    flagged = sorted(p.key for p in purposes.values() if p.membership)
    if len(flagged) != 1:
        raise PolicyError(source, "purposes", "exactly one purpose must be marked "
                          f"membership = true (found {len(flagged)})")

    clients: dict[str, ClientSpec] = {}
    for key, table in data.get("clients", {}).items():
        entry = f"clients.{key}"
        _unknown(table, {"name", "kind", "purposes", "collects_consent"}, source, entry)
        allowed = tuple(_require(table, "purposes", list, source, entry))
        for purpose in allowed:
            if purpose not in purposes:
                raise PolicyError(source, entry, f"unknown purpose '{purpose}'")
        clients[key] = ClientSpec(key, _require(table, "name", str, source, entry),
                                  _require(table, "kind", str, source, entry), allowed,
                                  _flag(table, "collects_consent", source, entry))
    retention: dict[str, RetentionRule] = {}
    for key, table in data.get("retention", {}).items():
        try:
            retention[key] = parse_rule(key, table)
        except RuleError as exc:
            raise PolicyError(source, f"retention.{key}", str(exc)) from None
        retention[key] = _with_titles(retention[key], categories, purposes, source, key)
    try:
        translated = notices.translations(data.get("translations", {}), language=language,
                                          purposes=purposes, categories=categories)
    except NoticeError as exc:
        raise PolicyError(source, exc.entry, exc.problem) from None
    _notices_in_every_language(purposes, language, translated, languages, source)
    try:
        processors = processing_parties.processors(data.get("processors", {}), categories)
        transfers_to = processing_parties.transfers(
            data.get("third_country_transfers", {}), processors=processors, clients=clients,
            summary=transfers)
    except PartiesError as exc:
        raise PolicyError(source, exc.entry, exc.problem) from None
    return Policy(version, controller, jurisdiction, dpo_contact, categories, purposes, clients,
                  source, retention, transfers, time_zone=time_zone, holidays=holidays,
                  controller_address=address, controller_phone=phone, language=language,
                  notice_title=notice_title, translations=translated, service=service,
                  storage_locations=tuple(storage_locations), processors=processors,
                  third_country_transfers=transfers_to)
