"""The request queue: overdue, due soon, by state and member; verify identity, extend,
deny with a code; each through the same use cases as the GraphQL officer mutations."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from membervault.services import Services
from subject_requests.models import DataSubjectRequest
from tests.membervault.console.conftest import open_request
from tests.membervault.console.support import Officer
from vaultkernel.clock import OffsetClock


def state_of(services: Services, request_id: uuid.UUID) -> DataSubjectRequest:
    with services.db.unit_of_work() as uow:
        found = uow.session.get(DataSubjectRequest, request_id)
        assert found is not None
        uow.session.expunge(found)
        return found


def test_the_queue_lists_open_requests_soonest_due_first(
        officer_web: Officer, services: Services, jane: dict[str, Any],
        jane_access: uuid.UUID) -> None:
    page = officer_web.get("/console/requests").text
    assert f'href="/console/requests/{jane_access}"' in page
    assert jane["id"] in page and "In progress" in page
    assert "Overdue</strong>" not in page
    for value in (jane["email"], jane["givenName"], jane["memberNumber"]):
        assert value not in page


def test_a_request_is_overdue_once_its_deadline_passes(
        officer_web: Officer, clock: OffsetClock, jane_access: uuid.UUID,
        officer_secret: str, services: Services) -> None:
    assert str(jane_access) not in officer_web.get("/console/requests?view=overdue").text
    assert str(jane_access) not in officer_web.get("/console/requests?view=due_soon").text
    due = state_of(services, jane_access).due_at  # GDPR: a month, to a working day
    clock.advance(due - clock.now() - dt.timedelta(days=3))
    officer_web.follow(officer_web.sign_in("dpo-office", officer_secret))  # days later
    assert str(jane_access) in officer_web.get("/console/requests?view=due_soon").text
    assert str(jane_access) not in officer_web.get("/console/requests?view=overdue").text
    clock.advance(dt.timedelta(days=4))
    officer_web.follow(officer_web.sign_in("dpo-office", officer_secret))
    overdue = officer_web.get("/console/requests?view=overdue").text
    assert str(jane_access) in overdue and "Overdue</strong>" in overdue
    assert "Overdue</strong>" in officer_web.get(f"/console/requests/{jane_access}").text


def test_the_queue_filters_by_state_and_member(officer_web: Officer, services: Services,
                                               jane: dict[str, Any],
                                               jane_access: uuid.UUID) -> None:
    other = uuid.uuid4()
    assert str(jane_access) in officer_web.get(
        f"/console/requests?state=in_progress&member={jane['id']}").text
    assert str(jane_access) not in officer_web.get("/console/requests?state=received").text
    assert str(jane_access) not in officer_web.get(f"/console/requests?member={other}").text
    assert officer_web.get("/console/requests?member=nonsense&view=bogus").status_code == 200


def test_identity_is_verified_and_the_clock_starts(officer_web: Officer, services: Services,
                                                   jane: dict[str, Any]) -> None:
    request_id = open_request(services, jane["id"], "erasure", verified=False)
    assert state_of(services, request_id).state == "identity_verification"
    page = officer_web.get(f"/console/requests/{request_id}").text
    assert "Verify identity" in page
    answer = officer_web.post(f"/console/requests/{request_id}/verify",
                              {"method": "Call back to the number on file"})
    assert answer.status_code == 303
    shown = officer_web.follow(answer).text
    assert "The identity check is recorded" in shown
    assert "Call back to the number on file" in shown
    assert state_of(services, request_id).state == "in_progress"


def test_a_request_is_extended_once_with_a_reason(officer_web: Officer, services: Services,
                                                  jane_access: uuid.UUID) -> None:
    due = state_of(services, jane_access).due_at
    answer = officer_web.post(f"/console/requests/{jane_access}/extend",
                              {"reason": "The archive is large"})
    assert "The deadline is extended" in officer_web.follow(answer).text
    extended = state_of(services, jane_access)
    assert extended.state == "extended" and extended.due_at > due
    again = officer_web.post(f"/console/requests/{jane_access}/extend", {"reason": "Again"})
    assert "can be extended only once" in officer_web.follow(again).text


def test_a_request_is_denied_with_a_code(officer_web: Officer, services: Services,
                                         jane_access: uuid.UUID) -> None:
    answer = officer_web.post(f"/console/requests/{jane_access}/deny",
                              {"code": "MANIFESTLY_UNFOUNDED", "reason": "Asked twice today"})
    page = officer_web.follow(answer).text
    assert "denied with the code given" in page and "MANIFESTLY_UNFOUNDED" in page
    denied = state_of(services, jane_access)
    assert (denied.state, denied.denial_code) == ("denied", "MANIFESTLY_UNFOUNDED")


@pytest.mark.parametrize(("form", "shown"), [
    ({"code": "BECAUSE", "reason": "No"}, "Choose one of the denial codes."),
    ({"code": "EXCESSIVE", "reason": "  "}, "Give a reason the member can read."),
])
def test_a_denial_needs_a_known_code_and_a_reason(officer_web: Officer, services: Services,
                                                  jane_access: uuid.UUID,
                                                  form: dict[str, str], shown: str) -> None:
    answer = officer_web.post(f"/console/requests/{jane_access}/deny", form)
    assert shown in officer_web.follow(answer).text
    assert state_of(services, jane_access).state == "in_progress"


def test_an_unknown_request_is_not_found(officer_web: Officer) -> None:
    for path in (f"/console/requests/{uuid.uuid4()}", "/console/requests/not-an-id"):
        assert officer_web.get(path).status_code == 404
    answer = officer_web.post(f"/console/requests/{uuid.uuid4()}/deny",
                              {"code": "EXCESSIVE", "reason": "x"})
    assert answer.status_code == 404


def test_changes_are_made_as_the_officer(officer_web: Officer, services: Services,
                                         jane_access: uuid.UUID) -> None:
    from subject_requests.lifecycle import transitions

    officer_web.post(f"/console/requests/{jane_access}/extend", {"reason": "Large archive"})
    with services.db.unit_of_work() as uow:
        last = transitions(uow.session, jane_access)[-1]
    assert (last.to_state, last.actor) == ("extended", "officer:dpo-office")
