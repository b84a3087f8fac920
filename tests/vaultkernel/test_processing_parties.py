"""The policy's processors, transfers to third countries and the controller's address
(vaultkernel.processing_parties) are validated at load, with errors naming the entry."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from identity.models import PERSONAL_FIELDS
from membervault.services import DEFAULT_POLICY, load_member_policy
from vaultkernel.policy import PolicyError, parse_policy

DEFAULT: dict[str, Any] = tomllib.loads(DEFAULT_POLICY.read_text())
SUPPORT = {"name": "Example Support Inc.", "service": "answers members' questions",
           "country": "US", "categories": ["contact.email"]}
SCC = {"recipient": "support-desk", "country": "US",
       "safeguard": "standard_contractual_clauses",
       "details": "Commission clauses 2021/914, module 2; a copy from the DPO"}


def parsed(change: Any) -> Any:
    data = copy.deepcopy(DEFAULT)
    change(data)
    return parse_policy(data, "policy.toml", member_attributes=PERSONAL_FIELDS)


def with_support_desk(data: dict[str, Any], transfer: dict[str, Any] | None = SCC,
                      summary: str = "to our support desk in the United States") -> None:
    data["policy"]["transfers"] = summary
    data["processors"]["support-desk"] = dict(SUPPORT)
    if transfer is not None:
        data["third_country_transfers"] = {"support-us": dict(transfer)}


def test_the_default_policy_names_its_processors_and_address_and_no_transfer() -> None:
    policy = load_member_policy()
    assert {k: (p.country, p.in_eea) for k, p in policy.processors.items()} == {
        "mail-relay": ("BE", True), "hosting": ("BE", True)}
    assert policy.processors["mail-relay"].categories == ("contact.email",)
    assert policy.processors["hosting"].categories == tuple(policy.categories)
    assert policy.third_country_transfers == {}
    assert policy.controller_address is not None
    assert policy.controller_address.one_line() == "Rue de l'Exemple 1, 1000 Bruxelles, BE"


def test_a_transfer_with_its_safeguard_is_accepted() -> None:
    policy = parsed(with_support_desk)
    transfer = policy.third_country_transfers["support-us"]
    assert (transfer.recipient, transfer.country, transfer.safeguard) == \
        ("support-desk", "US", "standard_contractual_clauses")
    assert "Art. 46(2)(c)" in transfer.safeguard_text
    # A client may be the recipient too.
    policy = parsed(lambda d: (with_support_desk(d), d["third_country_transfers"].update(
        partner={**SCC, "recipient": "partner-brand", "country": "CH",
                 "safeguard": "adequacy_decision"})))
    assert policy.third_country_transfers["partner"].recipient == "partner-brand"


@pytest.mark.parametrize(("change", "entry", "problem"), [
    (lambda d: with_support_desk(d, transfer=None), "processors.support-desk",
     "processes in US, outside the EEA, without a [third_country_transfers] entry"),
    (lambda d: with_support_desk(d, {**SCC, "country": "CA"}), "processors.support-desk",
     "processes in US, outside the EEA"),
    (lambda d: with_support_desk(d, {**SCC, "safeguard": "a_handshake"}),
     "third_country_transfers.support-us", "'safeguard' must be one of adequacy_decision"),
    (lambda d: with_support_desk(d, {**SCC, "recipient": "nobody"}),
     "third_country_transfers.support-us", "recipient 'nobody' is neither a processor nor"),
    (lambda d: with_support_desk(d, {**SCC, "country": "FR"}),
     "third_country_transfers.support-us", "FR is in the EEA"),
    (lambda d: with_support_desk(d, {**SCC, "details": " "}),
     "third_country_transfers.support-us", "'details' must be a non-empty string"),
    (lambda d: with_support_desk(d, {**SCC, "colour": "red"}),
     "third_country_transfers.support-us", "unknown keys colour"),
    (lambda d: with_support_desk(d, summary="none: all processing stays in the EEA"),
     "[policy]", "'transfers' says none, but [third_country_transfers] lists some"),
    (lambda d: d["processors"]["hosting"].update(categories=["contact.fax"]),
     "processors.hosting", "unknown category 'contact.fax'"),
    (lambda d: d["processors"]["hosting"].update(country="Belgium"),
     "processors.hosting", "'country' must be an ISO 3166 alpha-2 code"),
    (lambda d: d["processors"]["hosting"].pop("service"),
     "processors.hosting", "'service' must be a non-empty string"),
    (lambda d: d["policy"]["controller_address"].pop("locality"),
     "[policy] controller_address", "'locality' must be a non-empty string"),
    (lambda d: d["policy"].update(controller_address="Brussels"),
     "[policy]", "'controller_address' must be dict"),
])
def test_invalid_processors_and_transfers_are_refused(change: Any, entry: str,
                                                      problem: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parsed(change)
    assert (raised.value.entry, raised.value.source) == (entry, "policy.toml")
    assert problem in raised.value.problem
