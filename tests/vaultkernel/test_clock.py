"""Time, injectable (vaultkernel.clock): the clocks tests and officers move instead of
sleeping, and calendar months that end on the month's last day."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultkernel.clock import FixedClock, OffsetClock, SystemClock, add_months, utcnow

MOMENT = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.UTC)


def test_the_system_clock_tells_utc_now() -> None:
    before = utcnow()
    now = SystemClock().now()
    assert now.tzinfo is dt.UTC
    assert before <= now <= utcnow()


def test_an_offset_clock_runs_with_the_wall_clock_moved_by_its_offset() -> None:
    clock = OffsetClock(dt.timedelta(days=1))
    before = utcnow()
    now = clock.now()
    assert now.tzinfo is dt.UTC
    assert before + dt.timedelta(days=1) <= now <= utcnow() + dt.timedelta(days=1)


def test_advancing_an_offset_clock_adds_up_and_returns_the_new_time() -> None:
    clock = OffsetClock()
    start = utcnow()
    moved = clock.advance(dt.timedelta(days=40))
    clock.advance(dt.timedelta(hours=1))
    assert clock.offset == dt.timedelta(days=40, hours=1)
    assert moved - start >= dt.timedelta(days=40)
    assert clock.now() - start >= dt.timedelta(days=40, hours=1)


def test_a_fixed_clock_stands_still_until_moved() -> None:
    clock = FixedClock(MOMENT)
    assert clock.now() == clock.now() == MOMENT
    assert clock.advance(dt.timedelta(days=1)) == MOMENT + dt.timedelta(days=1)
    assert clock.now() == MOMENT + dt.timedelta(days=1)


def test_a_fixed_clock_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="UTC"):
        FixedClock(dt.datetime(2026, 1, 1))


@pytest.mark.parametrize(("start", "months", "expected"), [
    (dt.datetime(2026, 1, 31), 1, dt.datetime(2026, 2, 28)),
    (dt.datetime(2028, 1, 31), 1, dt.datetime(2028, 2, 29)),   # leap year
    (dt.datetime(2028, 2, 29), 12, dt.datetime(2029, 2, 28)),  # from a leap day
    (dt.datetime(2026, 3, 31), 1, dt.datetime(2026, 4, 30)),
    (dt.datetime(2026, 12, 31), 2, dt.datetime(2027, 2, 28)),  # across the year end
    (dt.datetime(2026, 3, 31), -1, dt.datetime(2026, 2, 28)),  # backwards
    (dt.datetime(2026, 1, 15), -13, dt.datetime(2024, 12, 15)),
    (dt.datetime(2026, 5, 15, 8, 45), 0, dt.datetime(2026, 5, 15, 8, 45)),
])
def test_adding_months_ends_on_the_last_day_when_the_day_does_not_exist(
        start: dt.datetime, months: int, expected: dt.datetime) -> None:
    utc = dt.UTC
    assert add_months(start.replace(tzinfo=utc), months) == expected.replace(tzinfo=utc)


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)),
       st.integers(min_value=0, max_value=36))
def test_adding_months_never_overshoots_the_target_month(start: dt.datetime, months: int) -> None:
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day <= start.day
