"""Due dates, pause and extension follow the jurisdiction rules (fixed clock)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from export import requests
from export.deadlines import JURISDICTIONS
from export.errors import RequestError
from vaultkernel.clock import add_months

T0 = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.UTC)


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


@pytest.mark.parametrize(("start", "expected"), [
    (dt.datetime(2026, 1, 31, tzinfo=dt.UTC), dt.datetime(2026, 2, 28, tzinfo=dt.UTC)),
    (dt.datetime(2028, 1, 31, tzinfo=dt.UTC), dt.datetime(2028, 2, 29, tzinfo=dt.UTC)),
    (dt.datetime(2026, 3, 15, tzinfo=dt.UTC), dt.datetime(2026, 4, 15, tzinfo=dt.UTC)),
    (dt.datetime(2026, 12, 31, tzinfo=dt.UTC), dt.datetime(2027, 1, 31, tzinfo=dt.UTC)),
])
def test_gdpr_allows_one_calendar_month(start: dt.datetime, expected: dt.datetime) -> None:
    assert JURISDICTIONS["GDPR"].due(start) == expected


def test_ccpa_allows_45_days_and_one_extension_of_45() -> None:
    ccpa = JURISDICTIONS["CCPA"]
    assert ccpa.due(T0) == T0 + dt.timedelta(days=45)
    assert ccpa.extend(ccpa.due(T0)) == T0 + dt.timedelta(days=90)


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)),
       st.integers(min_value=0, max_value=36))
def test_adding_months_never_overshoots_the_target_month(start: dt.datetime, months: int) -> None:
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day <= start.day


def opened(services: Any, jurisdiction: str = "GDPR", verified: str | None = "signed in",
           type_: str = "access", now: dt.datetime = T0) -> Any:
    with services.db.unit_of_work() as uow:
        request = requests.open_request(uow.session, uuid.uuid4(), type_,
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
    assert requests.effective_due(request, at(10)) == at(45 + 10)  # paused: moves with time
    with services.db.unit_of_work() as uow:
        row = requests.get(uow.session, request.id)
        requests.verify_identity(uow.session, row, "photo id at the store", actor="officer:o",
                                 now=at(10))
        uow.commit()
        assert row.state == "in_progress"
        assert row.due_at == at(55)  # ten paused days added once
        assert requests.effective_due(row, at(20)) == at(55)  # running again


def test_one_extension_with_a_reason(services: Any) -> None:
    request = opened(services)
    with services.db.unit_of_work() as uow:
        row = requests.get(uow.session, request.id)
        with pytest.raises(RequestError) as no_reason:
            requests.extend(uow.session, row, "  ", actor="officer:o", now=at(5))
        assert no_reason.value.code == "REASON_REQUIRED"
        requests.extend(uow.session, row, "many records across systems", actor="officer:o",
                        now=at(5))
        assert row.due_at == dt.datetime(2026, 4, 28, 9, 30, tzinfo=dt.UTC)  # +2 months
        with pytest.raises(RequestError) as twice:
            requests.extend(uow.session, row, "again", actor="officer:o", now=at(6))
        assert twice.value.code == "ALREADY_EXTENDED"
        uow.commit()
        log = [(t.from_state, t.to_state, t.actor) for t in requests.transitions(uow.session,
                                                                                  row.id)]
    assert log == [(None, "received", "member:x"), ("received", "in_progress", "member:x"),
                   ("in_progress", "extended", "officer:o")]


def test_denial_needs_a_known_code_and_closes_the_request(services: Any) -> None:
    request = opened(services)
    with services.db.unit_of_work() as uow:
        row = requests.get(uow.session, request.id)
        with pytest.raises(RequestError):
            requests.deny(uow.session, row, "BECAUSE", "no", actor="officer:o", now=at(1))
        requests.deny(uow.session, row, "MANIFESTLY_UNFOUNDED", "fourth identical request",
                      actor="officer:o", now=at(1))
        uow.commit()
        assert (row.state, row.closed_at, row.denial_code) == ("denied", at(1),
                                                               "MANIFESTLY_UNFOUNDED")
        with pytest.raises(RequestError) as closed:
            requests.advance(uow.session, row, "in_progress", actor="x", reason=None, now=at(2))
        assert closed.value.code == "INVALID_TRANSITION"


def test_overdue_and_due_soon_listings(services: Any) -> None:
    early = opened(services, now=T0 - dt.timedelta(days=40))  # overdue at T0
    soon = opened(services, type_="erasure", now=T0 - dt.timedelta(days=25))
    later = opened(services, type_="rectification", now=T0)
    paused = opened(services, verified=None, type_="objection", now=T0 - dt.timedelta(days=60))
    with services.db.unit_of_work() as uow:
        overdue = [r.id for r in uow.session.scalars(requests.listing(overdue=True, now=T0))]
        within = [r.id for r in uow.session.scalars(
            requests.listing(due_within=dt.timedelta(days=7), now=T0))]
        verifying = [r.id for r in uow.session.scalars(
            requests.listing(states=["identity_verification"], now=T0))]
    assert overdue == [early.id]
    assert within == [early.id, soon.id]
    assert later.id not in within and paused.id not in overdue
    assert verifying == [paused.id]


def test_a_second_open_request_of_the_same_type_is_a_duplicate(services: Any) -> None:
    member = uuid.uuid4()
    with services.db.unit_of_work() as uow:
        requests.open_request(uow.session, member, "access", jurisdiction="GDPR", actor="m",
                              identity_verification="signed in", now=T0)
        with pytest.raises(RequestError) as duplicate:
            requests.open_request(uow.session, member, "access", jurisdiction="GDPR",
                                  actor="m", identity_verification="signed in", now=T0)
    assert duplicate.value.code == "DUPLICATE"


def test_unknown_jurisdiction_and_type_are_refused(services: Any) -> None:
    with services.db.unit_of_work() as uow:
        for kwargs, code in (({"jurisdiction": "MARS"}, "UNKNOWN_JURISDICTION"),):
            with pytest.raises(RequestError) as raised:
                requests.open_request(uow.session, uuid.uuid4(), "access", actor="m",
                                      identity_verification="x", now=T0, **kwargs)
            assert raised.value.code == code
        with pytest.raises(RequestError) as bad_type:
            requests.open_request(uow.session, uuid.uuid4(), "telepathy", jurisdiction="GDPR",
                                  actor="m", identity_verification="x", now=T0)
        assert bad_type.value.code == "UNKNOWN_TYPE"
