"""Due dates and extensions follow the jurisdiction rules (pure functions)."""

from __future__ import annotations

import datetime as dt

import pytest

from subject_requests.deadlines import JURISDICTIONS, Jurisdiction, add_period

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


@pytest.mark.parametrize(("due", "expected"), [
    (dt.datetime(2026, 2, 28, 9, 30, tzinfo=dt.UTC), dt.datetime(2026, 4, 28, 9, 30, tzinfo=dt.UTC)),
    (dt.datetime(2026, 12, 31, tzinfo=dt.UTC), dt.datetime(2027, 2, 28, tzinfo=dt.UTC)),
    (dt.datetime(2027, 12, 31, tzinfo=dt.UTC), dt.datetime(2028, 2, 29, tzinfo=dt.UTC)),
])
def test_a_gdpr_extension_adds_two_calendar_months(due: dt.datetime,
                                                   expected: dt.datetime) -> None:
    assert JURISDICTIONS["GDPR"].extend(due) == expected


def test_ccpa_counts_days_across_the_year_end() -> None:
    start = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    assert JURISDICTIONS["CCPA"].due(start) == dt.datetime(2027, 1, 15, 12, tzinfo=dt.UTC)


def test_only_gdpr_and_ccpa_are_known() -> None:
    assert sorted(JURISDICTIONS) == ["CCPA", "GDPR"]
    assert all(code == rules.code for code, rules in JURISDICTIONS.items())


def test_a_period_adds_the_months_first_then_the_days() -> None:
    assert add_period(T0, 1, 1) == dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    assert add_period(T0, 0, 0) == T0
    custom = Jurisdiction("TEST", months=1, days=2, extension_days=3)
    assert custom.due(T0) == dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    assert custom.extend(T0) == T0 + dt.timedelta(days=3)
