"""Every listing and report of the command line (membervault/cli/output.py): the text on
standard output, ``--json`` as one JSON document with camelCase keys, no member's value in
either, and errors as one line on standard error with an exit code."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import update

from audit.models import AccessLogEntry
from membervault.services import Services
from tests.conftest import JANE, Api, register

Cli = Callable[..., Result]

# Each listing with the keys of its JSON document (docs/cli.md describes them).
LISTINGS: dict[tuple[str, ...], set[str]] = {
    ("client", "list"): {"principals"},
    ("keys", "list"): {"kekVersions", "signingKeys"},
    ("retention", "sweep", "--dry-run"): {"dryRun", "at", "rules", "failedRules"},
    ("worker", "--once"): {"done"},
    ("audit", "verify"): {"intact", "entriesVerified", "firstBrokenSequence", "problem"},
}
CAMEL_CASE = re.compile(r"[a-z][a-zA-Z0-9]*")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``worker`` configures the root logger onto the runner's (then closed) stderr."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def populated(cli: Cli, loyalty_api: Api) -> dict[str, Any]:
    """A client, the signing key and a registered member whose values must never show."""
    member = register(loyalty_api)
    assert member["errors"] == []
    return member


def keys_of(document: Any) -> Iterator[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            yield key
            yield from keys_of(value)
    elif isinstance(document, list):
        for item in document:
            yield from keys_of(item)


@pytest.mark.parametrize("command", list(LISTINGS), ids=" ".join)
def test_a_listing_prints_on_standard_output(cli: Cli, populated: Any,
                                             command: tuple[str, ...]) -> None:
    result = cli(*command)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert result.stdout.strip(), "the listing is on standard output"
    for text in result.stdout.splitlines():
        assert not text.strip() or text not in result.stderr


@pytest.mark.parametrize("command", list(LISTINGS), ids=" ".join)
def test_json_is_one_document_with_stable_camel_case_keys(cli: Cli, populated: Any,
                                                          command: tuple[str, ...]) -> None:
    result = cli(*command, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    document = json.loads(result.stdout)
    assert set(document) == LISTINGS[command]
    assert all(CAMEL_CASE.fullmatch(key) for key in keys_of(document)), list(keys_of(document))
    if command[0] != "worker":  # whose log lines go to standard error
        assert result.stderr == "", "no message, no progress under --json"


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_no_listing_shows_a_members_value(cli: Cli, populated: Any, as_json: bool) -> None:
    values = [JANE["givenName"], JANE["familyName"], JANE["email"], "7911", "1990-02-03",
              "Rosewood", "BS1 4DJ", populated["memberNumber"]]
    for command in LISTINGS:
        result = cli(*command, *(["--json"] if as_json else []))
        shown = result.stdout + result.stderr
        assert not [value for value in values if value in shown], command


def test_client_list_json(cli: Cli, populated: Any) -> None:
    [loyalty] = json.loads(cli("client", "list", "--json").stdout)["principals"]
    assert loyalty == {
        "clientId": "loyalty-engine", "name": "loyalty-engine", "kind": "client",
        "role": "client", "active": True, "collectsConsent": False,
        "purposes": ["loyalty.membership"], "hasWebhook": False,
        "createdAt": loyalty["createdAt"]}
    assert loyalty["createdAt"].endswith("+00:00")
    assert cli("client", "list").stdout == (
        "loyalty-engine client active purposes=loyalty.membership\n")


def test_keys_list_json_counts_the_keys_each_version_wraps(cli: Cli, populated: Any) -> None:
    document = json.loads(cli("keys", "list", "--json").stdout)
    # one member's data key and the signing key, both under version 1
    assert document["kekVersions"] == [{"version": 1, "active": True, "keysWrapped": 2}]
    [key] = document["signingKeys"]
    assert (key["algorithm"], key["state"], key["retiredAt"]) == ("ES256", "active", None)
    assert cli("keys", "rotate").exit_code == 0
    document = json.loads(cli("keys", "list", "--json").stdout)
    assert document["kekVersions"] == [{"version": 1, "active": False, "keysWrapped": 0},
                                       {"version": 2, "active": True, "keysWrapped": 2}]


def test_worker_once_json_names_every_kind_of_work(cli: Cli, populated: Any) -> None:
    done = json.loads(cli("worker", "--once", "--json").stdout)["done"]
    assert {"exports", "erasures", "deliveries", "expiredArchives",
            "accessLogIndexed"} <= set(done)
    assert all(isinstance(count, int) for count in done.values())


def test_a_broken_access_log_is_reported_in_json_with_exit_1(cli: Cli, populated: Any,
                                                             services: Services) -> None:
    with services.db.engine.begin() as connection:
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.sequence == 1)
                           .values(purpose="marketing.email"))
    result = cli("audit", "verify", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert (document["intact"], document["firstBrokenSequence"]) == (False, 1)
    assert document["problem"]


@pytest.mark.parametrize(("command", "message"), [
    (("retention", "sweep", "--rule", "no_such_rule", "--json"), "no retention rule"),
    (("worker", "--json"), "--json goes with --once"),
])
def test_an_error_under_json_is_one_line_on_standard_error(
        cli: Cli, command: tuple[str, ...], message: str) -> None:
    result = cli(*command)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
