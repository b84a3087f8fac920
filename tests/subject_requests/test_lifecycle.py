"""The request state machine: due dates as the clock runs and stops, extension, denial,
transitions, listings (fixed clock), and officers working requests through the API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from subject_requests import lifecycle
from subject_requests.errors import RequestError
from subject_requests.models import DataSubjectRequest
from tests.conftest import Api
from tests.subject_requests.support import officer_api

T0 = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.UTC)


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def test_the_due_date_moves_with_the_clock_only_while_paused() -> None:
    running = DataSubjectRequest(state="in_progress", due_at=at(30), paused_since=None)
    paused = DataSubjectRequest(state="identity_verification", due_at=at(30),
                                paused_since=at(0))
    assert lifecycle.effective_due(running, at(40)) == at(30)
    assert lifecycle.effective_due(paused, at(40)) == at(70)
    assert lifecycle.is_overdue(running, at(31)) is True
    assert lifecycle.is_overdue(running, at(29)) is False
    assert lifecycle.is_overdue(paused, at(400)) is False
    closed = DataSubjectRequest(state="completed", due_at=at(30), paused_since=None)
    assert lifecycle.is_overdue(closed, at(31)) is False


def opened(services: Any, jurisdiction: str = "GDPR", verified: str | None = "signed in",
           type_: str = "access", now: dt.datetime = T0) -> Any:
    with services.db.unit_of_work() as uow:
        request = lifecycle.receive(uow.session, uuid.uuid4(), type_,
                                    jurisdiction=jurisdiction, actor="member:x",
                                    identity_verification=verified, now=now)
        uow.commit()
    return request


def test_a_verified_request_is_due_one_month_after_receipt(services: Any) -> None:
    request = opened(services)
    assert request.state == "in_progress"
    assert request.due_at == dt.datetime(2026, 2, 28, 9, 30, tzinfo=dt.UTC)


def test_the_clock_stops_only_while_identity_is_being_verified(services: Any) -> None:
    request = opened(services, "CCPA", verified=None)
    assert request.state == "identity_verification"
    assert lifecycle.effective_due(request, at(10)) == at(45 + 10)  # paused: moves with time
    with services.db.unit_of_work() as uow:
        row = lifecycle.get(uow.session, request.id)
        lifecycle.verify_identity(uow.session, row, "photo id at the store", actor="officer:o",
                                 now=at(10))
        uow.commit()
        assert row.state == "in_progress"
        assert row.due_at == at(55)  # ten paused days added once
        assert lifecycle.effective_due(row, at(20)) == at(55)  # running again


def test_one_extension_with_a_reason(services: Any) -> None:
    request = opened(services)
    with services.db.unit_of_work() as uow:
        row = lifecycle.get(uow.session, request.id)
        with pytest.raises(RequestError) as no_reason:
            lifecycle.extend(uow.session, row, "  ", actor="officer:o", now=at(5))
        assert no_reason.value.code == "REASON_REQUIRED"
        lifecycle.extend(uow.session, row, "many records across systems", actor="officer:o",
                        now=at(5))
        assert row.due_at == dt.datetime(2026, 4, 28, 9, 30, tzinfo=dt.UTC)  # +2 months
        with pytest.raises(RequestError) as twice:
            lifecycle.extend(uow.session, row, "again", actor="officer:o", now=at(6))
        assert twice.value.code == "ALREADY_EXTENDED"
        uow.commit()
        log = [(t.from_state, t.to_state, t.actor) for t in lifecycle.transitions(uow.session,
                                                                                  row.id)]
    assert log == [(None, "received", "member:x"), ("received", "in_progress", "member:x"),
                   ("in_progress", "extended", "officer:o")]


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
             jurisdiction: "CCPA"}) { request { id state } errors { code } } }""",
        {"m": jane["id"]})["data"]["openRequestFor"]
    assert opened["request"]["state"] == "IDENTITY_VERIFICATION"
    request_id = opened["request"]["id"]
    listed = api.graphql('{ requests(state: IDENTITY_VERIFICATION) { id } }')
    assert listed["data"]["requests"] == [{"id": request_id}]
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
        """mutation($id: ID!) { denyRequest(requestId: $id, code: "LEGAL_CLAIMS",
           reason: "pending court case") { request { state denialCode } errors { code } } }""",
        {"id": request_id})
    assert denied["data"]["denyRequest"]["request"] == {"state": "DENIED",
                                                        "denialCode": "LEGAL_CLAIMS"}
    # The member sees the request, its reasons and every transition.
    mine = jane_api.graphql("{ myRequests { state denialReason transitions { toState } } }")
    assert mine["data"]["myRequests"][0]["denialReason"] == "pending court case"
    assert [t["toState"] for t in mine["data"]["myRequests"][0]["transitions"]] == [
        "RECEIVED", "IDENTITY_VERIFICATION", "IN_PROGRESS", "EXTENDED", "DENIED"]
