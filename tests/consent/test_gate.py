"""Gated reads (consent.gate): purpose-bound, consent-gated reads for client services
(memberData, audience) and bulk consent checks by member number (consentCheck): an answer
per number that never reveals who is a member, a bounded size, a bounded cost, and an
access-log entry per existing member."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from consent import gate, ledger
from consent.evidence import Evidence
from identity import member_number, members
from tests.audit.support import Logged, entries, logged
from tests.conftest import BACKEND, Api, client_token, create_principal, register
from tests.consent.support import (
    AUDIENCE,
    CONSENT_CHECK,
    MEMBER_DATA_BY_EMAIL,
    grant,
    new_member,
    signed_in,
    withdraw,
)
from vaultkernel.settings import Settings


@pytest.fixture
def people(loyalty_api: Api, http: Any, settings: Any) -> dict[str, Api]:
    """Three members: ann consents to email marketing, bob does not, cy withdrew."""
    result = {}
    for n, name in enumerate(["ann", "bob", "cy"]):
        payload = register(loyalty_api, email=f"{name}@example.org", phone=f"0740012340{n}",
                           givenName=name.title())
        assert payload["errors"] == []
        result[name] = signed_in(http, settings, f"{name}@example.org")
    for name in ("ann", "cy"):
        grant(result[name], "marketing.email")
    withdraw(result["cy"], "marketing.email")
    return result


def read(api: Api, email: str, purpose: str = "marketing.email") -> dict[str, Any]:
    result = api.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": purpose, "email": email})
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]["memberData"]
    return data


def test_marketing_reads_only_consenting_members(people: dict[str, Api],
                                                 marketing_api: Api) -> None:
    ann = read(marketing_api, "ann@example.org")
    assert ann["email"] == "ann@example.org" and ann["givenName"] == "Ann"
    assert ann["phone"] is None
    assert ann["denied"] == [{"field": "phone", "reason": "CATEGORY_NOT_IN_PURPOSE"}]

    bob = read(marketing_api, "bob@example.org")
    assert bob["email"] is None and bob["givenName"] is None
    assert {d["field"]: d["reason"] for d in bob["denied"]} == {
        "email": "CONSENT_REQUIRED", "givenName": "CONSENT_REQUIRED",
        "phone": "CATEGORY_NOT_IN_PURPOSE"}

    cy = read(marketing_api, "cy@example.org")
    assert cy["email"] is None
    assert {d["reason"] for d in cy["denied"]} >= {"CONSENT_REQUIRED"}


def test_the_next_read_after_withdrawal_is_denied(people: dict[str, Api],
                                                  marketing_api: Api) -> None:
    assert read(marketing_api, "ann@example.org")["email"] == "ann@example.org"
    withdraw(people["ann"], "marketing.email")
    assert read(marketing_api, "ann@example.org")["email"] is None


def test_the_bulk_audience_is_exactly_the_consenting_members(
        people: dict[str, Api], marketing_api: Api, loyalty_api: Api, http: Any,
        settings: Any) -> None:
    for n in range(5):
        register(loyalty_api, email=f"extra{n}@example.org", phone=f"0740012350{n}")
        if n % 2 == 0:
            grant(signed_in(http, settings, f"extra{n}@example.org"), "marketing.email")
    emails: list[str] = []
    after = None
    while True:
        page = marketing_api.graphql(AUDIENCE, {"purpose": "marketing.email", "first": 1,
                                                "after": after})["data"]["audience"]
        emails += [item["email"] for item in page["items"]]
        after = page["nextCursor"]
        if after is None:
            break
    assert sorted(emails) == ["ann@example.org", "extra0@example.org", "extra2@example.org",
                              "extra4@example.org"]


def test_a_non_member_and_a_non_consenting_member_look_the_same(
        people: dict[str, Api], marketing_api: Api) -> None:
    member = marketing_api.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": "marketing.email",
                                                 "email": "bob@example.org"})
    stranger = marketing_api.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": "marketing.email",
                                                   "email": "nobody@example.org"})
    malformed = marketing_api.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": "marketing.email",
                                                    "email": "not an email"})
    assert member == stranger == malformed


def test_a_client_cannot_declare_a_purpose_it_is_not_registered_for(
        people: dict[str, Api], marketing_api: Api) -> None:
    result = marketing_api.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": "loyalty.membership",
                                                 "email": "ann@example.org"})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_PERMITTED"


def test_every_read_is_logged_with_fields_and_reasons_but_no_values(
        people: dict[str, Api], marketing_api: Api, services: Any) -> None:
    read(marketing_api, "ann@example.org")
    read(marketing_api, "bob@example.org")
    read(marketing_api, "nobody@example.org")  # no member: nothing to log against
    entries = logged(services, "client:email-marketing")
    assert [(e.principal, e.purpose) for e in entries] == [
        ("client:email-marketing", "marketing.email")] * 2
    assert entries[0].fields_returned == ["email", "given_name"]
    assert entries[0].fields_denied == {"phone": "CATEGORY_NOT_IN_PURPOSE"}
    assert entries[1].fields_returned == []
    assert entries[1].fields_denied["email"] == "CONSENT_REQUIRED"
    assert "ann@example.org" not in str([vars(e) for e in entries])


def test_members_see_who_read_their_data(people: dict[str, Api], marketing_api: Api) -> None:
    read(marketing_api, "ann@example.org")
    log = people["ann"].graphql("{ myAccessLog { items { principal purpose fieldsReturned } } }")
    items = log["data"]["myAccessLog"]["items"]
    assert items[-1]["principal"] == "client:loyalty-engine"  # the registration answer
    assert items[:-1] == [
        {"principal": "client:email-marketing", "purpose": "marketing.email",
         "fieldsReturned": ["email", "given_name"]}]
    bob = people["bob"].graphql("{ myAccessLog { items { principal } } }")
    assert bob["data"]["myAccessLog"]["items"] == [{"principal": "client:loyalty-engine"}]


def test_a_lookup_key_outside_the_purpose_is_refused(people: dict[str, Api], http: Any,
                                                     services: Any) -> None:
    analytics = Api(http, client_token(http, "analytics-job", create_principal(
        services, "analytics-job", purposes=("analytics.segmentation",))))
    result = analytics.graphql(MEMBER_DATA_BY_EMAIL, {"purpose": "analytics.segmentation",
                                             "email": "ann@example.org"})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "LOOKUP_KEY_NOT_IN_PURPOSE"
    assert "ann@" not in str(result)


# -- consentCheck: bulk checks by member number -------------------------------------------


FIELD = "consent:marketing.email"


@pytest.fixture
def numbers(loyalty_api: Api, http: TestClient, settings: Settings) -> dict[str, str]:
    """ann consents to email marketing, bob never did, cy withdrew."""
    result = {}
    for n, name in enumerate(["ann", "bob", "cy"]):
        api, profile = new_member(loyalty_api, http, settings, name, n)
        result[name] = profile["memberNumber"]
        if name != "bob":
            grant(api, "marketing.email")
        if name == "cy":
            withdraw(api, "marketing.email")
    return result


def check(api: Api, numbers: list[str], purpose: str = "marketing.email") -> list[dict[str, Any]]:
    result = api.graphql(CONSENT_CHECK, {"purpose": purpose, "numbers": numbers})
    assert "errors" not in result, result
    answers: list[dict[str, Any]] = result["data"]["consentCheck"]
    return answers


def unknown_numbers(count: int, taken: set[str]) -> list[str]:
    """Well-formed member numbers (valid check digit) that belong to nobody here."""
    found: set[str] = set()
    while len(found) < count:
        number = member_number.generate()
        if number not in taken:
            found.add(number)
    return sorted(found)


def log_entries(services: Any) -> list[Logged]:
    return logged(services, "client:email-marketing")


def test_each_number_gets_an_answer(numbers: dict[str, str], marketing_api: Api) -> None:
    [stranger] = unknown_numbers(1, set(numbers.values()))
    asked = [numbers["ann"], numbers["bob"], numbers["cy"], stranger, "12345", "not-a-number",
             numbers["ann"][:-1] + str((int(numbers["ann"][-1]) + 1) % 10)]
    answers = check(marketing_api, asked)
    assert [a["memberNumber"] for a in answers] == asked
    by_number = {a["memberNumber"]: (a["permitted"], a["reason"]) for a in answers}
    assert by_number[numbers["ann"]] == (True, None)
    refused = (False, "CONSENT_REQUIRED")
    assert [by_number[n] for n in asked[1:]] == [refused] * 6


def test_unknown_and_malformed_numbers_look_like_a_member_without_consent(
        numbers: dict[str, str], marketing_api: Api) -> None:
    [stranger] = unknown_numbers(1, set(numbers.values()))

    def answer(number: str) -> dict[str, Any]:
        [one] = check(marketing_api, [number])
        return {k: v for k, v in one.items() if k != "memberNumber"}

    assert answer(numbers["bob"]) == answer(numbers["cy"]) == answer(stranger) == answer(
        "0000") == answer("") == answer("ᛒᛒᛒᛒᛒᛒᛒᛒᛒᛒᛒᛒ")


def test_only_existing_members_get_access_log_entries(numbers: dict[str, str],
                                                      marketing_api: Api,
                                                      services: Any) -> None:
    strangers = unknown_numbers(5, set(numbers.values()))
    check(marketing_api, [*strangers, numbers["ann"], "junk", numbers["bob"], numbers["cy"]])
    entries = log_entries(services)
    member_ids = {e.member_id for e in entries}
    assert len(entries) == len(member_ids) == 3
    by_returned = sorted((e.fields_returned, e.fields_denied) for e in entries)
    assert by_returned == [([], {FIELD: "CONSENT_REQUIRED"}), ([], {FIELD: "CONSENT_REQUIRED"}),
                           ([FIELD], {})]
    assert {e.purpose for e in entries} == {"marketing.email"}
    check(marketing_api, strangers)
    assert len(log_entries(services)) == 3


def test_a_client_checks_only_purposes_it_may_declare(numbers: dict[str, str],
                                                      marketing_api: Api) -> None:
    result = marketing_api.graphql(CONSENT_CHECK, {"purpose": "partners.sharing",
                                           "numbers": [numbers["ann"]]})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_PERMITTED"


def test_at_most_ten_thousand_numbers_per_call(numbers: dict[str, str], marketing_api: Api,
                                               services: Any) -> None:
    many = unknown_numbers(10_000, set(numbers.values()))
    answers = check(marketing_api, [*many[:-1], numbers["ann"]])
    assert len(answers) == 10_000 and answers[-1]["permitted"] is True
    result = marketing_api.graphql(CONSENT_CHECK, {"purpose": "marketing.email",
                                           "numbers": [*many, numbers["ann"]]})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "TOO_MANY"
    assert len(log_entries(services)) == 1  # the refused call read and logged nothing
    assert len(entries(services, "client:email-marketing")) == 1


@pytest.fixture
def statements(services: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL statement sent to the database while the list is being watched."""
    # Registrations are cached for seconds; keep them cached for the whole test.
    monkeypatch.setattr(services.registrations, "ttl", dt.timedelta(hours=1))
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(services.db.engine, "before_cursor_execute", count)


def test_the_cost_does_not_grow_with_the_number_of_numbers_beyond_chunking(
        numbers: dict[str, str], marketing_api: Api, services: Any,
        statements: list[str]) -> None:
    strangers = unknown_numbers(2_000, set(numbers.values()))
    members = list(numbers.values())

    def cost(count: int) -> int:
        statements.clear()
        answers = check(marketing_api, [*members, *strangers[:count - len(members)]])
        assert len(answers) == count
        return len(statements)

    cost(10)  # warm-up: token key, registration look-ups
    small, large = cost(200), cost(2_000)
    # 200 numbers fit in one chunk of 1000, 2000 need two: one more statement at most.
    assert large - small <= 1, statements
    assert large <= 8, statements
    calls = entries(services, "client:email-marketing")
    assert [c.members for c in calls] == [3, 3, 3]  # three calls, three existing members each


# -- no existence oracle by cost ----------------------------------------------------------


def test_a_stranger_costs_what_a_member_without_consent_costs(
        people: dict[str, Api], marketing_api: Api, services: Any,
        statements: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The same statements and the same log write, and nothing decrypted for either."""
    opened: list[str] = []
    real_cipher = services.crypto.cipher

    def counting_cipher(*args: Any, **kwargs: Any) -> Any:
        opened.append("cipher")
        return real_cipher(*args, **kwargs)

    read(marketing_api, "ann@example.org")  # warm-up: caches, token key
    monkeypatch.setattr(services.crypto, "cipher", counting_cipher)
    costs = {}
    for email in ("bob@example.org", "stranger@example.org"):
        statements.clear()
        before = len(entries(services, "client:email-marketing"))
        answer = read(marketing_api, email)
        costs[email] = ([s.split()[0] for s in statements],
                        len(entries(services, "client:email-marketing")) - before)
        assert answer["email"] is None
    assert costs["bob@example.org"] == costs["stranger@example.org"]
    assert costs["bob@example.org"][1] == 1
    assert opened == []


def test_spellings_of_one_number_are_one_look_up(
        numbers: dict[str, str], marketing_api: Api, services: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    digests: list[str] = []
    real = services.crypto.index

    class CountingIndex:
        def digest(self, kind: str, value: str) -> bytes:
            digests.append(kind)
            return bytes(real.digest(kind, value))

    number = numbers["bob"]
    spellings = [number, f" {number} ", "-".join(number), " ".join(number)] * 500
    monkeypatch.setattr(services.crypto, "index", CountingIndex())
    answers = check(marketing_api, spellings)
    assert len(answers) == 4  # one answer per distinct spelling, as asked
    assert {(a["permitted"], a["reason"]) for a in answers} == {(False, "CONSENT_REQUIRED")}
    assert digests == ["member_number"]
    assert [e.members for e in entries(services, "client:email-marketing")] == [1]


def explained(services: Any, statement: str, parameters: Any) -> Any:
    """PostgreSQL: the executed plan of a statement (rows each node really produced);
    SQLite: its query plan (which table is scanned or searched by which index)."""
    if BACKEND == "postgresql":
        with services.db.engine.connect() as connection:
            return connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar()[0]["Plan"]
    with services.db.engine.connect() as connection:
        return [row[-1] for row in connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters)]


def most_rows_per_scan(plan: dict[str, Any], tables: set[str]) -> int:
    """The most rows any one scan of these tables produced (PostgreSQL reports a node's
    rows per loop: a nested loop scans the inner table once per outer row)."""
    own = plan["Actual Rows"] if plan.get("Relation Name") in tables else 0
    return max([int(own), *(most_rows_per_scan(p, tables) for p in plan.get("Plans", []))])


@pytest.mark.parametrize("purpose_key", ["marketing.email", "analytics.segmentation"])
def test_a_later_page_reads_no_consent_or_objection_of_the_pages_before(
        services: Any, purpose_key: str) -> None:
    ids = []
    for n in range(30):  # every member consents to email marketing; every third objects
        with services.db.unit_of_work() as uow:
            member_id = members.enrol_member(
                uow, services.crypto, {"given_name": f"Page{n}", "family_name": "Keyset",
                                     "email": f"page{n}@example.org"},
                actor="test", default_region="GB").member_id
        with services.db.unit_of_work() as uow:
            ledger.record_consent(uow.session, services.policy, services.crypto, member_id,
                                  "marketing.email", granted=True, notice_version=1, channel="web", actor="test",
                                  evidence=Evidence())
            if n % 3 == 0:
                ledger.set_objection(uow.session, services.policy, member_id,
                                     "analytics.segmentation", objected=True, actor="test")
            uow.commit()
        ids.append((member_id, n % 3 == 0))
    ids.sort()
    purpose = services.policy.purposes[purpose_key]
    permitted = [m for m, objected in ids if not (objected and purpose.objectable)]
    after = ids[24][0]
    sent: list[tuple[str, Any]] = []

    def watch(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((statement, parameters))

    event.listen(services.db.engine, "before_cursor_execute", watch)
    try:
        with services.db.unit_of_work() as uow:
            page = gate.read_page(uow.session, services.crypto, services.policy, purpose,
                                  ["email"], first=3, after=after,
                                  log=services.access_log.reader("client:test", "keyset"))
    finally:
        event.remove(services.db.engine, "before_cursor_execute", watch)
    assert [d.member_id for d in page] == [m for m in permitted if m > after][:3]
    [(statement, parameters)] = [(s, p) for s, p in sent if "FROM members" in s]
    plan = explained(services, statement, parameters)
    if BACKEND == "postgresql":
        # whatever plan the server chose: no scan reads rows of the pages before, so none
        # yields more than the 5 members past the cursor (the old query read them all)
        assert most_rows_per_scan(plan, {"consents", "objections"}) <= 5, plan
    else:
        assert not [step for step in plan if step.startswith(("SCAN consents",
                                                              "SCAN objections"))], plan


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite plans without statistics")
def test_an_audience_page_walks_the_members_in_order_without_statistics(
        services: Any) -> None:
    """A database nobody ran ANALYZE on (every new SQLite deployment) still reads a page
    by the primary key from where the last one ended, not every active member sorted
    again per page (which made a whole export cost the square of the member count)."""
    import uuid

    purpose = services.policy.purposes["marketing.email"]
    with services.db.engine.connect() as connection:
        assert not connection.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar()
        for keyset in (False, True):
            statement = gate._permitted(purpose, ("email",), keyset).limit(1000)
            compiled = statement.compile(connection)
            params = compiled.construct_params({"after": uuid.UUID(int=0)})
            values = [params[name] for name in compiled.positiontup or []]
            values = [v.hex if isinstance(v, uuid.UUID) else v for v in values]
            plan = " | ".join(row[3] for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(values)))
            assert "TEMP B-TREE" not in plan, plan
            assert "ix_members_status_last_activity_at" not in plan, plan


def test_a_page_decides_and_logs_each_member_as_a_single_read_would(services: Any) -> None:
    """Decisions are made once per distinct member state of a page: each member still
    gets what reading them alone gives (values, allowed and denied fields), and the page's
    entry names each member with exactly that."""
    for n in range(8):
        with services.db.unit_of_work() as uow:
            enrolled = members.enrol_member(
                uow, services.crypto, {"given_name": f"Shape{n}", "family_name": "Page",
                                   "email": f"shape{n}@example.org"},
                actor="test", default_region="GB")
        if n % 2 == 0:
            with services.db.unit_of_work() as uow:
                ledger.record_consent(uow.session, services.policy, services.crypto,
                                      enrolled.member_id, "marketing.email", granted=True,
                                      notice_version=1, channel="web", actor="test",
                                      evidence=Evidence())
                uow.commit()
    log = services.access_log.reader("client:shapes", "page")
    purpose = services.policy.purposes["marketing.email"]
    requested = ["phone", "email", "given_name"]
    with services.db.unit_of_work() as uow:
        page = gate.read_page(uow.session, services.crypto, services.policy, purpose,
                              requested, first=100, after=None, log=log)
    assert len(page) == 4
    single = services.access_log.reader("client:shapes-one", "one")
    for data in page:
        with services.db.unit_of_work() as uow:
            alone = gate.read_one(uow.session, services.crypto, services.policy, purpose,
                                  requested, kind="email", key=data.values["email"],
                                  default_region="GB", log=single)
        assert (data.member_id, data.values, data.decision) == (
            alone.member_id, alone.values, alone.decision)
    assert data.decision.denied == {"phone": "CATEGORY_NOT_IN_PURPOSE"}
    named = {(e.member_id, tuple(e.fields_returned), tuple(e.fields_denied.items()))
             for e in logged(services, "client:shapes")}
    assert named == {(d.member_id, tuple(sorted(d.decision.allowed)),
                      tuple(d.decision.denied.items())) for d in page}
