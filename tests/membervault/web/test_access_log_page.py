"""Who read my data: the member's entries of the access log in their words."""

from __future__ import annotations

import uuid
from typing import Any

from audit.chain import Read
from membervault.services import Services
from membervault.web import access_log
from tests.audit.support import seed
from tests.conftest import Api
from tests.membervault.web.support import Visitor


def test_a_clients_read_is_shown_by_name_purpose_and_fields(jane_web: Visitor,
                                                            jane: dict[str, Any],
                                                            loyalty_api: Api) -> None:
    result = loyalty_api.graphql(
        """query($n: String!) { memberData(purpose: "loyalty.membership", memberNumber: $n)
           { email birthdate } }""", {"n": jane["memberNumber"]})
    assert "errors" not in result
    page = jane_web.get("/privacy/access-log").text
    row = page.split("<tbody>")[1].split("</tr>")[0]
    assert "Loyalty engine" in row and "Your membership" in row
    assert "<td>Email address</td>" in row
    assert "Date of birth (not needed for this purpose)" in row


def test_the_members_own_reads_are_listed_as_theirs(jane_web: Visitor) -> None:
    jane_web.get("/privacy/profile")
    page = jane_web.get("/privacy/access-log").text
    row = page.split("<tbody>")[1].split("</tr>")[0]
    assert "<td>You</td>" in row and "You looked at your own data" in row
    assert "Email address" in row and "Postal address" in row


def test_older_reads_a_page_at_a_time(jane_web: Visitor, jane: dict[str, Any],
                                      services: Services) -> None:
    seed(services, "client:loyalty-engine", "loyalty.membership",
         [Read(uuid.UUID(jane["id"]), ["email"])], access_log.PAGE + 5)
    first = jane_web.get("/privacy/access-log").text
    assert first.count("<tr>") == access_log.PAGE + 1  # the head row and a full page
    older = first.split('href="/privacy/access-log?before=')[1].split('"')[0]
    second = jane_web.get(f"/privacy/access-log?before={older}").text
    assert 2 <= second.count("<tr>") - 1 < access_log.PAGE
    assert "?before=" not in second and "Newest reads" in second


def test_reading_the_log_is_not_itself_a_read_of_member_values(jane_web: Visitor,
                                                               services: Services) -> None:
    from tests.audit.support import entries

    before = len(entries(services))
    jane_web.get("/privacy/access-log")
    assert len(entries(services)) == before
