"""Due dates and extensions follow the jurisdiction rules and Regulation 1182/71 Art. 3:
the end of the last day in the controller's time zone, rolled from a weekend or public
holiday, extensions counted from the start (pure functions)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membervault.services import load_member_policy
from subject_requests.deadlines import (
    JURISDICTIONS,
    Calendar,
    Deadlines,
    Jurisdiction,
    due,
    extended_due,
    last_day,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
PLAIN = Calendar(BRUSSELS)  # weekends only, no public holidays
GDPR, CCPA = JURISDICTIONS["GDPR"], JURISDICTIONS["CCPA"]


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def end_of_day_in_brussels(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 23, 59, 59, 999999, tzinfo=BRUSSELS).astimezone(dt.UTC)


def test_a_gdpr_request_is_due_at_the_end_of_the_same_date_next_month() -> None:
    answer = due(GDPR, utc(2026, 3, 10, 9, 30), PLAIN)
    assert answer == end_of_day_in_brussels(2026, 4, 10)  # Friday
    assert answer == utc(2026, 4, 10, 21, 59, 59, 999999)  # CEST is UTC+2
    assert answer.tzinfo == dt.UTC


def test_the_day_of_receipt_is_the_controllers_day() -> None:
    # 23:30 UTC on 9 March is already 10 March in Brussels.
    assert due(GDPR, utc(2026, 3, 9, 23, 30), PLAIN) == end_of_day_in_brussels(2026, 4, 10)
    assert due(GDPR, utc(2026, 3, 9, 22, 30), PLAIN) == end_of_day_in_brussels(2026, 4, 9)


def test_the_end_of_day_follows_daylight_saving_time() -> None:
    assert PLAIN.end_of(dt.date(2026, 1, 15)) == utc(2026, 1, 15, 22, 59, 59, 999999)
    assert PLAIN.end_of(dt.date(2026, 10, 24)) == utc(2026, 10, 24, 21, 59, 59, 999999)
    assert PLAIN.end_of(dt.date(2026, 10, 25)) == utc(2026, 10, 25, 22, 59, 59, 999999)


@pytest.mark.parametrize(("received", "expected"), [
    ((2026, 1, 31), (2026, 3, 2)),  # 28 February 2026 is a Saturday
    ((2028, 1, 31), (2028, 2, 29)),  # a Tuesday in a leap year
    ((2026, 3, 15), (2026, 4, 15)),
    ((2026, 12, 31), (2027, 2, 1)),  # 31 January 2027 is a Sunday
    ((2026, 3, 28), (2026, 4, 28)),
])
def test_one_calendar_month_the_short_month_and_the_weekend(
        received: tuple[int, int, int], expected: tuple[int, int, int]) -> None:
    assert due(GDPR, utc(*received, 12), PLAIN) == end_of_day_in_brussels(*expected)


def test_a_public_holiday_moves_the_due_date_to_the_next_working_day() -> None:
    holidays = Calendar(BRUSSELS, frozenset({dt.date(2026, 5, 14), dt.date(2026, 12, 25)}))
    # Ascension day (Thursday) -> Friday.
    assert due(GDPR, utc(2026, 4, 14, 12), holidays) == end_of_day_in_brussels(2026, 5, 15)
    # Christmas on a Friday, then a weekend -> Monday.
    assert due(GDPR, utc(2026, 11, 25, 12), holidays) == end_of_day_in_brussels(2026, 12, 28)
    # The same periods without the holidays end on the day itself.
    assert due(GDPR, utc(2026, 4, 14, 12), PLAIN) == end_of_day_in_brussels(2026, 5, 14)


def test_ccpa_allows_45_days_and_one_extension_of_45_counted_from_receipt() -> None:
    start = utc(2026, 12, 1, 12)
    assert due(CCPA, start, PLAIN) == end_of_day_in_brussels(2027, 1, 15)
    assert extended_due(CCPA, start, PLAIN) == end_of_day_in_brussels(2027, 3, 1)  # 90 days


@pytest.mark.parametrize(("received", "first", "extended"), [
    # Counted from receipt: 31 January + 3 months = 30 April, not 28 February + 2 months.
    ((2026, 1, 31), (2026, 3, 2), (2026, 4, 30)),
    ((2027, 1, 31), (2027, 3, 1), (2027, 4, 30)),
    ((2026, 12, 31), (2027, 2, 1), (2027, 3, 31)),
    ((2027, 11, 30), (2027, 12, 30), (2028, 2, 29)),
])
def test_a_gdpr_extension_counts_three_months_from_receipt_not_two_from_the_due_date(
        received: tuple[int, int, int], first: tuple[int, int, int],
        extended: tuple[int, int, int]) -> None:
    start = utc(*received, 12)
    assert due(GDPR, start, PLAIN) == end_of_day_in_brussels(*first)
    assert extended_due(GDPR, start, PLAIN) == end_of_day_in_brussels(*extended)


def test_a_period_adds_the_months_first_then_the_days() -> None:
    assert last_day(dt.date(2026, 1, 31), 1, 1) == dt.date(2026, 3, 1)
    assert last_day(dt.date(2026, 1, 31), 0, 0) == dt.date(2026, 1, 31)
    custom = Jurisdiction("TEST", months=1, days=2, extension_days=3)
    assert due(custom, utc(2026, 1, 31, 12), PLAIN) == end_of_day_in_brussels(2026, 3, 2)
    assert extended_due(custom, utc(2026, 1, 31, 12), PLAIN) == end_of_day_in_brussels(
        2026, 3, 5)


def test_only_gdpr_and_ccpa_are_known_and_only_gdpr_stops_for_identity() -> None:
    assert sorted(JURISDICTIONS) == ["CCPA", "GDPR"]
    assert all(code == rules.code for code, rules in JURISDICTIONS.items())
    assert GDPR.identity_pauses_clock is True
    assert CCPA.identity_pauses_clock is False  # Cal. Civ. Code 1798.130(a)(2)


def test_the_policy_gives_the_time_zone_and_each_jurisdiction_its_own_holidays() -> None:
    policy = load_member_policy()
    deadlines = Deadlines(policy.time_zone, policy.holidays)
    assert deadlines.calendar("GDPR").time_zone == BRUSSELS
    # 21 July is Belgium's national day, not a Californian holiday.
    assert deadlines.due("GDPR", utc(2026, 6, 21, 12)) == end_of_day_in_brussels(2026, 7, 22)
    assert deadlines.due("CCPA", utc(2026, 6, 6, 12)) == end_of_day_in_brussels(2026, 7, 21)
    assert Deadlines().calendar("GDPR") == Calendar(ZoneInfo("UTC"))


# ---------------------------------------------------------------------------------------
# Properties, for any receipt moment and any set of holidays

moments = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2029, 12, 31),
                       timezones=st.just(dt.UTC))
holiday_sets = st.frozensets(st.dates(min_value=dt.date(2025, 1, 1),
                                      max_value=dt.date(2030, 12, 31)), max_size=60)
zones = st.sampled_from(["Europe/Brussels", "America/Los_Angeles", "UTC", "Asia/Kolkata",
                         "Pacific/Auckland"])


@settings(max_examples=300, deadline=None)
@given(received=moments, holidays=holiday_sets, zone=zones,
       rules=st.sampled_from(list(JURISDICTIONS.values())))
def test_a_due_date_is_the_last_moment_of_the_first_working_day_on_or_after_the_statutory_day(
        received: dt.datetime, holidays: frozenset[dt.date], zone: str,
        rules: Jurisdiction) -> None:
    calendar = Calendar(ZoneInfo(zone), holidays)
    for answer, months, days in (
            (due(rules, received, calendar), rules.months, rules.days),
            (extended_due(rules, received, calendar), rules.months + rules.extension_months,
             rules.days + rules.extension_days)):
        local = answer.astimezone(ZoneInfo(zone))
        statutory = last_day(calendar.day_of(received), months, days)
        assert local.time() == dt.time(23, 59, 59, 999999)
        assert local.weekday() < 5 and local.date() not in holidays  # never a day off
        assert local.date() >= statutory  # never before the statutory minimum
        skipped = [statutory + dt.timedelta(days=n)
                   for n in range((local.date() - statutory).days)]
        assert not any(calendar.is_working_day(day) for day in skipped)  # the next one
    assert extended_due(rules, received, calendar) > due(rules, received, calendar)
