"""The request state machine: due dates as the clock runs (and, under the GDPR only,
stops), extension within the first period, denial, transitions, listings (fixed times),
and officers working requests through the API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from subject_requests import lifecycle
from subject_requests.deadlines import Deadlines
from subject_requests.errors import RequestError
from subject_requests.models import DataSubjectRequest
from tests.conftest import Api
from tests.subject_requests.support import OPEN_FOR, officer_api

T0 = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.UTC)  # a Saturday
BRUSSELS = ZoneInfo("Europe/Brussels")  # the default policy's time zone


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def end_of(year: int, month: int, day: int) -> dt.datetime:
    """The end of a day in the controller's time zone."""
    return dt.datetime(year, month, day, 23, 59, 59, 999999, tzinfo=BRUSSELS).astimezone(dt.UTC)


def deadlines_of(services: Any) -> Deadlines:
    deadlines: Deadlines = services.request_workflow.deadlines
    return deadlines


def test_the_due_date_moves_with_the_clock_only_while_paused() -> None:
    deadlines = Deadlines("Europe/Brussels")
    running = DataSubjectRequest(state="in_progress", jurisdiction="GDPR", due_at=at(30),
                                 paused_since=None)
    paused = DataSubjectRequest(state="identity_verification", jurisdiction="GDPR",
                                due_at=at(30), paused_since=at(0))
    assert lifecycle.effective_due(running, at(40), deadlines) == at(30)
    # Paused: due as if identity were verified now (10 March + 1 month).
    assert lifecycle.effective_due(paused, at(38), deadlines) == end_of(2026, 4, 10)
    assert lifecycle.is_overdue(running, at(31)) is True
    assert lifecycle.is_overdue(running, at(29)) is False
    assert lifecycle.is_overdue(paused, at(400)) is False
    closed = DataSubjectRequest(state="completed", jurisdiction="GDPR", due_at=at(30),
                                paused_since=None)
    assert lifecycle.is_overdue(closed, at(31)) is False


def opened(services: Any, jurisdiction: str = "GDPR", verified: str | None = "signed in",
           type_: str = "access", now: dt.datetime = T0) -> Any:
    with services.db.unit_of_work() as uow:
        request = lifecycle.receive(uow.session, uuid.uuid4(), type_,
                                    jurisdiction=jurisdiction, actor="member:x",
                                    identity_verification=verified, now=now,
                                    deadlines=deadlines_of(services))
        uow.commit()
    return request


def test_a_verified_request_is_due_at_the_end_of_the_first_working_day_a_month_on(
        services: Any) -> None:
    request = opened(services)
    assert request.state == "in_progress"
    # 28 February 2026 is a Saturday: the period ends with Monday 2 March, in Brussels.
    assert request.due_at == end_of(2026, 3, 2)
    assert request.due_at == dt.datetime(2026, 3, 2, 22, 59, 59, 999999, tzinfo=dt.UTC)


def test_the_gdpr_clock_stops_while_identity_is_being_verified(services: Any) -> None:
    request = opened(services, "GDPR", verified=None)
    assert request.state == "identity_verification"
    assert request.paused_since == T0
    deadlines = deadlines_of(services)
    # Stopped: due as if identity were verified now (10 February + 1 month).
    assert lifecycle.effective_due(request, at(10), deadlines) == end_of(2026, 3, 10)
    assert lifecycle.is_overdue(request, at(100)) is False
    with services.db.unit_of_work() as uow:
        row = lifecycle.get(uow.session, request.id)
        lifecycle.verify_identity(uow.session, deadlines, row, "photo id at the store",
                                  actor="officer:o", now=at(10))
        uow.commit()
        assert row.state == "in_progress" and row.paused_since is None
        assert row.due_at == end_of(2026, 3, 10)  # counted from the verification
        assert lifecycle.effective_due(row, at(20), deadlines) == end_of(2026, 3, 10)
        assert lifecycle.clock_start(uow.session, row) == at(10)


def test_the_ccpa_clock_runs_while_identity_is_being_verified(services: Any) -> None:
    """Cal. Civ. Code 1798.130(a)(2): 45 days from receipt, verification included."""
    request = opened(services, "CCPA", verified=None)
    assert request.state == "identity_verification"
    assert request.paused_since is None
    deadlines = deadlines_of(services)
    assert request.due_at == end_of(2026, 3, 17)  # 31 January + 45 days, a Tuesday
    assert lifecycle.effective_due(request, at(40), deadlines) == end_of(2026, 3, 17)
    assert lifecycle.is_overdue(request, at(47)) is True  # overdue though not verified
    with services.db.unit_of_work() as uow:
        overdue = [r.id for r in uow.session.scalars(lifecycle.listing(overdue=True,
                                                                       now=at(47)))]
        assert overdue == [request.id]
        row = lifecycle.get(uow.session, request.id)
        lifecycle.verify_identity(uow.session, deadlines, row, "photo id at the store",
                                  actor="officer:o", now=at(10))
        uow.commit()
        assert row.due_at == end_of(2026, 3, 17)  # verifying does not move it
        assert lifecycle.clock_start(uow.session, row) == T0


def test_one_extension_with_a_reason_counted_from_receipt(services: Any) -> None:
    request = opened(services)
    deadlines = deadlines_of(services)
    with services.db.unit_of_work() as uow:
        row = lifecycle.get(uow.session, request.id)
        with pytest.raises(RequestError) as no_reason:
            lifecycle.extend(uow.session, deadlines, row, "  ", actor="officer:o", now=at(5))
        assert no_reason.value.code == "REASON_REQUIRED"
        lifecycle.extend(uow.session, deadlines, row, "many records across systems",
                         actor="officer:o", now=at(5))
        # 31 January + 3 months = 30 April (not 2 March + 2 months = 2 May).
        assert row.due_at == end_of(2026, 4, 30)
        with pytest.raises(RequestError) as twice:
            lifecycle.extend(uow.session, deadlines, row, "again", actor="officer:o",
                             now=at(6))
        assert twice.value.code == "ALREADY_EXTENDED"
        uow.commit()
        log = [(t.from_state, t.to_state, t.actor) for t in lifecycle.transitions(uow.session,
                                                                                  row.id)]
    assert log == [(None, "received", "member:x"), ("received", "in_progress", "member:x"),
                   ("in_progress", "extended", "officer:o")]



@pytest.mark.parametrize(("jurisdiction", "last_moment"), [
    ("GDPR", end_of(2026, 3, 2)), ("CCPA", end_of(2026, 3, 17))])
def test_an_extension_is_refused_once_the_first_period_has_ended(
        services: Any, jurisdiction: str, last_moment: dt.datetime) -> None:
    request = opened(services, jurisdiction)
    deadlines = deadlines_of(services)
    with services.db.unit_of_work() as uow:
        row = lifecycle.get(uow.session, request.id)
        assert row.due_at == last_moment
        for late in (last_moment + dt.timedelta(microseconds=1),
                     last_moment + dt.timedelta(days=10)):
            with pytest.raises(RequestError) as refused:
                lifecycle.extend(uow.session, deadlines, row, "we were busy",
                                 actor="officer:o", now=late)
            assert refused.value.code == "EXTENSION_TOO_LATE"
            assert (row.due_at, row.extended, row.state) == (last_moment, False, "in_progress")
        lifecycle.extend(uow.session, deadlines, row, "records in three systems",
                         actor="officer:o", now=last_moment)  # the last moment still counts
        assert row.extended and row.due_at > last_moment


def test_an_extension_after_a_gdpr_pause_counts_from_the_verification(services: Any) -> None:
    request = opened(services, "GDPR", verified=None)
    deadlines = deadlines_of(services)
    with services.db.unit_of_work() as uow:
        row = lifecycle.get(uow.session, request.id)
        lifecycle.verify_identity(uow.session, deadlines, row, "passport",
                                  actor="officer:o", now=at(10))  # 10 February
        lifecycle.extend(uow.session, deadlines, row, "records in three systems",
                         actor="officer:o", now=at(11))
        assert row.due_at == end_of(2026, 5, 11)  # 10 May is a Sunday

def test_denial_needs_a_known_code_and_closes_the_request(services: Any) -> None:
    request = opened(services)
    with services.db.unit_of_work() as uow:
        row = lifecycle.get(uow.session, request.id)
        with pytest.raises(RequestError):
            lifecycle.deny(uow.session, row, "BECAUSE", "no", actor="officer:o", now=at(1))
        lifecycle.deny(uow.session, row, "MANIFESTLY_UNFOUNDED", "fourth identical request",
                      actor="officer:o", now=at(1))
        uow.commit()
        assert (row.state, row.closed_at, row.denial_code) == ("denied", at(1),
                                                               "MANIFESTLY_UNFOUNDED")
        with pytest.raises(RequestError) as closed:
            lifecycle.advance(uow.session, row, "in_progress", actor="x", reason=None, now=at(2))
        assert closed.value.code == "INVALID_TRANSITION"


def test_overdue_and_due_soon_listings(services: Any) -> None:
    early = opened(services, now=T0 - dt.timedelta(days=40))  # overdue at T0
    soon = opened(services, type_="erasure", now=T0 - dt.timedelta(days=25))
    later = opened(services, type_="rectification", now=T0)
    paused = opened(services, verified=None, type_="objection", now=T0 - dt.timedelta(days=60))
    with services.db.unit_of_work() as uow:
        overdue = [r.id for r in uow.session.scalars(lifecycle.listing(overdue=True, now=T0))]
        within = [r.id for r in uow.session.scalars(
            lifecycle.listing(due_within=dt.timedelta(days=7), now=T0))]
        verifying = [r.id for r in uow.session.scalars(
            lifecycle.listing(states=["identity_verification"], now=T0))]
    assert overdue == [early.id]
    assert within == [early.id, soon.id]
    assert later.id not in within and paused.id not in overdue
    assert verifying == [paused.id]


def test_a_second_open_request_of_the_same_type_is_a_duplicate(services: Any) -> None:
    member = uuid.uuid4()
    with services.db.unit_of_work() as uow:
        lifecycle.receive(uow.session, member, "access", jurisdiction="GDPR", actor="m",
                          identity_verification="signed in", now=T0)
        with pytest.raises(RequestError) as duplicate:
            lifecycle.receive(uow.session, member, "access", jurisdiction="GDPR",
                              actor="m", identity_verification="signed in", now=T0)
    assert duplicate.value.code == "DUPLICATE"


def test_unknown_jurisdiction_and_type_are_refused(services: Any) -> None:
    with services.db.unit_of_work() as uow:
        for kwargs, code in (({"jurisdiction": "MARS"}, "UNKNOWN_JURISDICTION"),):
            with pytest.raises(RequestError) as raised:
                lifecycle.receive(uow.session, uuid.uuid4(), "access", actor="m",
                                  identity_verification="x", now=T0, **kwargs)
            assert raised.value.code == code
        with pytest.raises(RequestError) as bad_type:
            lifecycle.receive(uow.session, uuid.uuid4(), "telepathy", jurisdiction="GDPR",
                              actor="m", identity_verification="x", now=T0)
        assert bad_type.value.code == "UNKNOWN_TYPE"


def test_officers_open_verify_extend_and_deny(http: Any, services: Any, jane: dict[str, Any],
                                              jane_api: Api) -> None:
    api = officer_api(http, services)
    opened = api.graphql(
        """mutation($m: ID!) { openRequestFor(memberId: $m, input: {type: ERASURE,
             jurisdiction: CCPA}) { request { id state } errors { code } } }""",
        {"m": jane["id"]})["data"]["openRequestFor"]
    assert opened["request"]["state"] == "IDENTITY_VERIFICATION"
    request_id = opened["request"]["id"]
    listed = api.graphql('{ requests(state: IDENTITY_VERIFICATION) { items { id } } }')
    assert listed["data"]["requests"]["items"] == [{"id": request_id}]
    verified = api.graphql(
        """mutation($id: ID!) { verifyRequestIdentity(requestId: $id, method: "photo id in store")
           { request { state identityVerification } } }""", {"id": request_id})
    assert verified["data"]["verifyRequestIdentity"]["request"] == {
        "state": "IN_PROGRESS", "identityVerification": "photo id in store"}
    extended = api.graphql(
        """mutation($id: ID!) { extendRequest(requestId: $id, reason: "records in 3 systems")
           { request { state extended extensionReason } } }""", {"id": request_id})
    assert extended["data"]["extendRequest"]["request"]["extended"] is True
    denied = api.graphql(
        """mutation($id: ID!) { denyRequest(requestId: $id, code: LEGAL_CLAIMS,
           reason: "pending court case") { request { state denialCode } errors { code } } }""",
        {"id": request_id})
    assert denied["data"]["denyRequest"]["request"] == {"state": "DENIED",
                                                        "denialCode": "LEGAL_CLAIMS"}
    # The member sees the request, its reasons and every transition.
    mine = jane_api.graphql("{ myRequests { items { state denialReason transitions { toState } } } }")
    assert mine["data"]["myRequests"]["items"][0]["denialReason"] == "pending court case"
    assert [t["toState"] for t in mine["data"]["myRequests"]["items"][0]["transitions"]] == [
        "RECEIVED", "IDENTITY_VERIFICATION", "IN_PROGRESS", "EXTENDED", "DENIED"]


def test_a_late_extension_is_refused_through_the_api(http: Any, services: Any) -> None:
    api = officer_api(http, services)
    late = opened(services, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=45))
    answer = api.graphql(
        """mutation($id: ID!) { extendRequest(requestId: $id, reason: "records in 3 systems")
           { request { id } errors { field code message } } }""", {"id": str(late.id)})
    [error] = answer["data"]["extendRequest"]["errors"]
    assert answer["data"]["extendRequest"]["request"] is None
    assert error["code"] == "EXTENSION_TOO_LATE"
    assert "within the first period" in error["message"]
    with services.db.unit_of_work() as uow:
        assert lifecycle.get(uow.session, late.id).extended is False


def test_the_officer_queue_reads_the_service_clock(officer: Any, jane: dict[str, Any],
                                                   services: Any) -> None:
    """The queue, its due dates and its ``overdue`` flags follow the service's clock (an
    officer's what-if view, a test), not the wall clock."""
    opened = officer.graphql(OPEN_FOR, {"m": jane["id"], "v": "phone call",
                                        "input": {"type": "ACCESS"}})
    request_id = opened["data"]["openRequestFor"]["request"]["id"]
    queue = """{ requests(overdue: true) { items { id overdue } } }"""
    assert officer.graphql(queue)["data"]["requests"]["items"] == []
    services.clock.advance(dt.timedelta(days=45))
    assert officer.graphql(queue)["data"]["requests"]["items"] == [
        {"id": request_id, "overdue": True}]
