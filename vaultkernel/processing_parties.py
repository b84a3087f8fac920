"""Who else processes member data, and where: the policy file's processors (GDPR Art. 28,
e.g. the mail relay and the hosting provider), its transfers to third countries with
their safeguards (Art. 44-49). (The controller's postal address is
:mod:`vaultkernel.notices`' ``PostalAddress``.)

Parsed and checked here like the rest of the policy (a :class:`PartiesError` names the
entry; :mod:`vaultkernel.policy` turns it into a ``PolicyError``). The exports tell
members about them (Art. 15(1)(c), 15(2)) and the record of processing lists them
(Art. 30(1)(a), (d), (e)).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

COUNTRY = re.compile(r"^[A-Z]{2}$")

# The EEA: the EU member states, Iceland, Liechtenstein and Norway (ISO 3166 alpha-2).
# Personal data may flow freely between them; a transfer anywhere else needs a safeguard.
EEA = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    "IS", "LI", "NO",
})

# The safeguards a transfer may rest on, and how a member is told about each one.
SAFEGUARDS: dict[str, str] = {
    "adequacy_decision": "an adequacy decision of the European Commission (GDPR Art. 45)",
    "standard_contractual_clauses": "standard data protection clauses adopted by the "
                                    "European Commission (GDPR Art. 46(2)(c))",
    "binding_corporate_rules": "binding corporate rules (GDPR Art. 46(2)(b) and 47)",
    "code_of_conduct": "an approved code of conduct with binding commitments of the "
                       "recipient (GDPR Art. 46(2)(e))",
    "certification": "an approved certification mechanism with binding commitments of the "
                     "recipient (GDPR Art. 46(2)(f))",
    "derogation": "a derogation for a specific situation (GDPR Art. 49)",
}


class PartiesError(ValueError):
    def __init__(self, entry: str, problem: str):
        super().__init__(problem)
        self.entry, self.problem = entry, problem


@dataclass(frozen=True)
class Processor:
    """A service provider processing member data on the controller's behalf (Art. 28)."""

    key: str
    name: str
    service: str  # what it does for the controller, in words
    country: str  # where it processes (ISO 3166 alpha-2)
    categories: tuple[str, ...]  # the data categories it processes

    @property
    def in_eea(self) -> bool:
        return self.country in EEA


@dataclass(frozen=True)
class Transfer:
    """Personal data going to a country outside the EEA, and the safeguard it rests on."""

    key: str
    recipient: str  # a processor or client key of the policy
    country: str
    safeguard: str  # a key of SAFEGUARDS
    details: str  # which instrument, and how to obtain a copy (Art. 15(2), 13(1)(f))

    @property
    def safeguard_text(self) -> str:
        return SAFEGUARDS[self.safeguard]


def _text(table: Mapping[str, Any], key: str, entry: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PartiesError(entry, f"'{key}' must be a non-empty string")
    return value.strip()


def _only(table: Mapping[str, Any], allowed: set[str], entry: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise PartiesError(entry, f"unknown keys {', '.join(extra)}")


def _country(table: Mapping[str, Any], key: str, entry: str) -> str:
    country = _text(table, key, entry)
    if not COUNTRY.match(country):
        raise PartiesError(entry, f"'{key}' must be an ISO 3166 alpha-2 code such as 'BE'")
    return country


def _table(value: Any, entry: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PartiesError(entry, "must be a table")
    return value


def processors(tables: Any, categories: Collection[str]) -> dict[str, Processor]:
    """``[processors."<key>"]``: name, service, country, and the categories it processes
    (every category when ``categories`` is left out)."""
    found: dict[str, Processor] = {}
    for key, value in _table(tables, "[processors]").items():
        entry = f"processors.{key}"
        table = _table(value, entry)
        _only(table, {"name", "service", "country", "categories"}, entry)
        named = table.get("categories", list(categories))
        if not isinstance(named, list) or not named:
            raise PartiesError(entry, "'categories' must be a non-empty list of categories")
        unknown = [c for c in named if c not in categories]
        if unknown:
            raise PartiesError(entry, f"unknown category '{unknown[0]}'")
        found[key] = Processor(key=key, name=_text(table, "name", entry),
                               service=_text(table, "service", entry),
                               country=_country(table, "country", entry),
                               categories=tuple(dict.fromkeys(named)))
    return found


def transfers(tables: Any, *, processors: Mapping[str, Processor], clients: Collection[str],
              summary: str) -> dict[str, Transfer]:
    """``[third_country_transfers."<key>"]``: recipient (a processor or client of the
    policy), country (outside the EEA), safeguard (a key of :data:`SAFEGUARDS`) and
    details. Every processor outside the EEA needs one, and ``[policy] transfers`` must
    not say "none" while some are listed."""
    found: dict[str, Transfer] = {}
    for key, value in _table(tables, "[third_country_transfers]").items():
        entry = f"third_country_transfers.{key}"
        table = _table(value, entry)
        _only(table, {"recipient", "country", "safeguard", "details"}, entry)
        recipient = _text(table, "recipient", entry)
        if recipient not in processors and recipient not in clients:
            raise PartiesError(entry, f"recipient '{recipient}' is neither a processor nor "
                               "a client of this policy")
        country = _country(table, "country", entry)
        if country in EEA:
            raise PartiesError(entry, f"{country} is in the EEA: that is not a transfer to a "
                               "third country")
        safeguard = _text(table, "safeguard", entry)
        if safeguard not in SAFEGUARDS:
            raise PartiesError(entry, f"'safeguard' must be one of {', '.join(SAFEGUARDS)}")
        found[key] = Transfer(key=key, recipient=recipient, country=country,
                              safeguard=safeguard, details=_text(table, "details", entry))
    covered = {(t.recipient, t.country) for t in found.values()}
    for processor in processors.values():
        if not processor.in_eea and (processor.key, processor.country) not in covered:
            raise PartiesError(f"processors.{processor.key}",
                               f"processes in {processor.country}, outside the EEA, without "
                               "a [third_country_transfers] entry naming its safeguard")
    if found and summary.strip().lower().startswith("none"):
        raise PartiesError("[policy]", "'transfers' says none, but [third_country_transfers] "
                           "lists some")
    return found
