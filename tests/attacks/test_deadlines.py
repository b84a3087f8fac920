"""Issue 11, item 8, replayed as an auditor reading the due dates the running service
gives: the end of the day in the controller's time zone, rolled from a weekend or a
public holiday of the policy's calendar (Regulation 1182/71 Art. 3(4)); an extension
counted from receipt; a CCPA clock that runs through identity verification. The expected
dates are counted here from the published policy, independently of the service's code;
dates around month ends and a moving clock: tests/subject_requests/test_deadlines.py."""

from __future__ import annotations

import calendar
import datetime as dt
import tomllib
from typing import Any
from zoneinfo import ZoneInfo

from membervault.services import DEFAULT_POLICY
from tests.attacks.conftest import Enrol
from tests.conftest import Api

POLICY = tomllib.loads(DEFAULT_POLICY.read_text())
ZONE = ZoneInfo(POLICY["policy"]["time_zone"])
LAST_MOMENT = dt.time(23, 59, 59, 999999)
REQUEST = "request { id state receivedAt dueAt extended identityVerification }"
OPEN_FOR = f"""mutation($m: ID!, $input: OpenRequestInput!, $v: String) {{
  openRequestFor(memberId: $m, input: $input, identityVerification: $v) {{
    {REQUEST} errors {{ field code }} }} }}"""
EXTEND = f"""mutation($id: ID!) {{ extendRequest(requestId: $id, reason: "many records") {{
  {REQUEST} errors {{ field code }} }} }}"""
VERIFY = f"""mutation($id: ID!) {{ verifyRequestIdentity(requestId: $id, method: "photo ID") {{
  {REQUEST} errors {{ field code }} }} }}"""


def expected_due(received: str, jurisdiction: str, months: int, days: int) -> dt.datetime:
    """The last moment of the first working day on or after the statutory last day."""
    day = dt.datetime.fromisoformat(received).astimezone(ZONE).date()
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    last = dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
    last += dt.timedelta(days=days)
    holidays = set(POLICY["holidays"][jurisdiction])
    while last.weekday() >= 5 or last in holidays:
        last += dt.timedelta(days=1)
    return dt.datetime.combine(last, LAST_MOMENT, tzinfo=ZONE)


def payload(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result
    (value,) = result["data"].values()
    assert value["errors"] == [], value
    request: dict[str, Any] = value["request"]
    return request


def due(request: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(request["dueAt"]).astimezone(ZONE)


def test_a_gdpr_request_is_due_at_the_end_of_a_working_day_and_extended_from_receipt(
        officer: Api, enrol: Enrol) -> None:
    member = enrol("lou")
    opened = payload(officer.graphql(OPEN_FOR, {"m": member["id"], "v": "photo ID", "input": {
        "type": "ACCESS", "jurisdiction": "GDPR"}}))
    assert due(opened) == expected_due(opened["receivedAt"], "GDPR", 1, 0)
    assert due(opened).weekday() < 5
    extended = payload(officer.graphql(EXTEND, {"id": opened["id"]}))
    assert extended["extended"] is True
    assert due(extended) == expected_due(opened["receivedAt"], "GDPR", 3, 0)
    again = officer.graphql(EXTEND, {"id": opened["id"]})["data"]["extendRequest"]
    assert again["errors"][0]["code"] == "ALREADY_EXTENDED"


def test_the_ccpa_clock_runs_while_identity_is_verified(officer: Api, enrol: Enrol) -> None:
    member = enrol("max")
    opened = payload(officer.graphql(OPEN_FOR, {"m": member["id"], "v": None, "input": {
        "type": "ACCESS", "jurisdiction": "CCPA"}}))
    assert opened["state"] == "IDENTITY_VERIFICATION"
    assert due(opened) == expected_due(opened["receivedAt"], "CCPA", 0, 45)
    verified = payload(officer.graphql(VERIFY, {"id": opened["id"]}))
    assert verified["state"] == "IN_PROGRESS" and verified["dueAt"] == opened["dueAt"]
