"""Issue 11, item 1, replayed over HTTP: a consent-based client cannot tell a member who has
not consented from a stranger by what its questions cost. The replay compares the work
each answer caused that is visible from outside (the answer, the access-log entries, the
rows written), never the time it took; the statements run are counted in-process by
tests/consent/test_gate.py."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from identity import member_number
from tests.attacks.auditor import access_log_of, log_entries, row_counts, written
from tests.attacks.conftest import Enrol
from tests.attacks.server import Server
from tests.conftest import Api
from tests.consent.support import CONSENT_CHECK

CHECKED = {"field": "consent:marketing.email", "reason": "CONSENT_REQUIRED"}
ALIASED_LOOK_UPS = "query($purpose: String!, $email: String) {\n" + "\n".join(
    f"  r{n}: memberData(purpose: $purpose, email: $email) {{ email givenName denied "
    "{ field reason } }" for n in range(15)) + "\n}"


@pytest.fixture(scope="module")
def not_consenting(enrol: Enrol) -> dict[str, Any]:
    return enrol("bob")


def stranger_number(taken: str) -> str:
    while (number := member_number.generate()) == taken:
        pass
    return number


def cost(server: Server, officer: Api, ask: Any) -> tuple[Any, int, dict[str, int]]:
    """The answer, the access-log entries and the rows one question caused."""
    entries, rows = log_entries(officer), row_counts(server)
    answer = ask()
    return answer, log_entries(officer) - entries, written(rows, row_counts(server))


def test_fifteen_aliased_look_ups_cost_the_same_for_a_member_and_a_stranger(
        server: Server, officer: Api, marketing: Api, not_consenting: dict[str, Any]) -> None:
    def look_up(email: str) -> Any:
        def ask() -> Any:
            result = marketing.graphql(ALIASED_LOOK_UPS, {"purpose": "marketing.email",
                                                          "email": email})
            assert "errors" not in result, result
            return result["data"]

        return ask

    cost(server, officer, look_up("warm-up@example.org"))  # token key, registration cache
    member = cost(server, officer, look_up(not_consenting["email"]))
    stranger = cost(server, officer, look_up("nobody.at.all@example.org"))
    assert member == stranger
    answer, entries, rows = member
    assert answer["r0"] == {"email": None, "givenName": None, "denied": [
        {"field": "email", "reason": "CONSENT_REQUIRED"},
        {"field": "givenName", "reason": "CONSENT_REQUIRED"}]}
    assert entries == 15 and rows == {"access_log": 15}


def spellings(number: str, count: int) -> list[str]:
    """``count`` different ways of writing one number that all mean it."""
    gaps = itertools.product(["", " ", "-"], repeat=len(number) - 1)
    written_out = ("".join(d + g for d, g in zip(number, (*gap, ""), strict=True))
                   for gap in gaps)
    return list(itertools.islice(written_out, count))


def test_four_thousand_spellings_of_one_number_are_one_look_up(
        server: Server, officer: Api, marketing: Api, not_consenting: dict[str, Any]) -> None:
    def check(number: str) -> Any:
        def ask() -> Any:
            result = marketing.graphql(CONSENT_CHECK, {"purpose": "marketing.email",
                                                       "numbers": spellings(number, 4000)})
            assert "errors" not in result, result
            return {(a["permitted"], a["reason"]) for a in result["data"]["consentCheck"]}

        return ask

    number = not_consenting["memberNumber"]
    member = cost(server, officer, check(number))
    stranger = cost(server, officer, check(stranger_number(number)))
    assert member == stranger == ({(False, "CONSENT_REQUIRED")}, 1, {"access_log": 1})
    checks = [i["fieldsDenied"] for i in access_log_of(officer, not_consenting["id"])
              if i["fieldsDenied"][:1] == [CHECKED]]
    assert checks == [[CHECKED]]
