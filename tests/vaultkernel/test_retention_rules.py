"""Retention rules (vaultkernel.retention_rules): durations counted in calendar months,
rules refused with a message naming the problem, and the sentence a member reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from vaultkernel.retention_rules import (
    CATEGORY,
    CONSENT_WITHDRAWN,
    KINDS,
    Duration,
    RetentionRule,
    RuleError,
    kind_of,
    parse_duration,
    parse_rule,
)

NOW = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)
INACTIVE = {"applies_to": "member", "anchor": "last_activity", "after": "36 months",
            "action": "erase", "notice_days": 30}


@pytest.mark.parametrize(("text", "amount", "unit"), [
    ("30 days", 30, "days"), ("1 day", 1, "days"), ("36 months", 36, "months"),
    ("1 hour", 1, "hours"), ("6 years", 6, "years"), ("  2  days ", 2, "days"),
])
def test_durations_are_read_in_singular_or_plural(text: str, amount: int, unit: str) -> None:
    assert parse_duration(text) == Duration(amount, unit)


@pytest.mark.parametrize("text", ["30", "days", "2 weeks", "-1 days", "1.5 years", "", 30,
                                  None, "0 days"])
def test_a_duration_that_is_not_understood_is_refused(text: Any) -> None:
    with pytest.raises(RuleError, match="'after'"):
        parse_duration(text)


@pytest.mark.parametrize(("duration", "expected"), [
    (Duration(2, "hours"), NOW - dt.timedelta(hours=2)),
    (Duration(30, "days"), NOW - dt.timedelta(days=30)),
    (Duration(1, "months"), dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)),  # no 31 February
    (Duration(1, "years"), dt.datetime(2025, 3, 31, 12, tzinfo=dt.UTC)),
    (Duration(2, "years"), dt.datetime(2024, 3, 31, 12, tzinfo=dt.UTC)),
])
def test_a_duration_counts_back_in_calendar_months_and_years(duration: Duration,
                                                             expected: dt.datetime) -> None:
    assert duration.before(NOW) == expected


def test_a_leap_day_minus_a_year_is_the_last_day_of_february() -> None:
    leap_day = dt.datetime(2028, 2, 29, tzinfo=dt.UTC)
    assert Duration(1, "years").before(leap_day) == dt.datetime(2027, 2, 28, tzinfo=dt.UTC)


def test_a_duration_reads_naturally() -> None:
    assert [str(Duration(1, "days")), str(Duration(36, "months")), str(Duration(1, "hours"))] == [
        "1 day", "36 months", "1 hour"]


def test_a_rule_is_parsed_with_its_kind_and_notice() -> None:
    rule = parse_rule("inactive_members", INACTIVE)
    assert rule == RetentionRule("inactive_members", "member", "last_activity",
                                 Duration(36, "months"), "erase", 30)
    assert rule.kind == ("member", "last_activity", "erase")
    assert rule.withdrawn_purpose is None


@pytest.mark.parametrize(("table", "problem"), [
    ({**INACTIVE, "colour": "red"}, "unknown keys colour"),
    ({k: v for k, v in INACTIVE.items() if k not in {"after", "action"}},
     "missing 'after', 'action'"),
    ({**INACTIVE, "anchor": "a_full_moon"}, "the sweeper does not know member / a_full_moon"),
    ({**INACTIVE, "action": 3}, "the sweeper does not know"),
    ({**INACTIVE, "notice_days": -1}, "'notice_days' must be a whole number"),
    ({**INACTIVE, "notice_days": True}, "'notice_days' must be a whole number"),
    ({**INACTIVE, "notice_days": "30"}, "'notice_days' must be a whole number"),
    ({**INACTIVE, "after": "soon"}, "'after' must look like"),
])
def test_a_rule_that_is_not_understood_is_refused_naming_the_problem(
        table: dict[str, Any], problem: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule("inactive_members", table)
    assert problem in str(caught.value)


def test_an_unknown_kind_lists_the_kinds_the_sweeper_knows() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule("r", {**INACTIVE, "anchor": "a_full_moon"})
    assert "member / last_activity / erase" in str(caught.value)
    assert f"{CONSENT_WITHDRAWN}:<purpose>" in str(caught.value)


def test_any_category_deleted_after_a_consent_withdrawal_is_one_kind() -> None:
    assert kind_of("identity.birthdate", "consent_withdrawn:rewards.birthday", "delete") == (
        CATEGORY, CONSENT_WITHDRAWN, "delete")
    assert kind_of("access_log", "recorded", "delete") == ("access_log", "recorded", "delete")
    rule = parse_rule("birthdate", {"applies_to": "identity.birthdate",
                                    "anchor": "consent_withdrawn:rewards.birthday",
                                    "after": "30 days", "action": "delete"})
    assert rule.withdrawn_purpose == "rewards.birthday"
    assert rule.kind in KINDS


def test_a_withdrawal_anchor_without_a_purpose_names_none() -> None:
    rule = RetentionRule("r", "identity.birthdate", "consent_withdrawn:", Duration(1, "days"),
                         "delete")
    assert rule.withdrawn_purpose is None


def test_members_read_each_rule_as_a_sentence() -> None:
    assert parse_rule("inactive_members", INACTIVE).describe() == (
        "Your membership and all your personal data are erased 36 months after your last "
        "activity (you are told 30 days before).")
    birthdate = RetentionRule("birthdate", "identity.birthdate",
                              "consent_withdrawn:rewards.birthday", Duration(30, "days"),
                              "delete", category_title="Date of birth",
                              purpose_title="Birthday rewards")
    assert birthdate.describe() == (
        "Your date of birth is deleted 30 days after you withdraw consent to birthday rewards.")
    assert parse_rule("codes", {"applies_to": "sign_in_code", "anchor": "created",
                                "after": "1 day", "action": "delete"}).describe() == (
        "Sign-in codes are deleted 1 day after they are sent.")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_known_kind_describes_itself(kind: tuple[str, str, str]) -> None:
    applies_to, anchor, action = kind
    if anchor == CONSENT_WITHDRAWN:
        applies_to, anchor = "identity.birthdate", "consent_withdrawn:rewards.birthday"
    rule = RetentionRule("r", applies_to, anchor, Duration(2, "years"), action, 7, "Date",
                         "Rewards")
    text = rule.describe()
    assert "2 years" in text and "{" not in text
