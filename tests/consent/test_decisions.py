"""Access decisions (consent.decisions): pure functions, no database. Each reason a member
or a field is denied, and which reason wins when several apply."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.decisions import (
    CATEGORY_NOT_IN_PURPOSE,
    CONSENT_REQUIRED,
    CONSENT_STALE,
    MEMBER_ERASED,
    MEMBER_NOT_FOUND,
    NOBODY,
    OBJECTED,
    PROCESSING_RESTRICTED,
    MemberState,
    decide,
    member_reason,
)
from vaultkernel.policy import Purpose

MARKETING = Purpose(key="marketing.email", legal_basis="consent", categories=("contact.email",),
                    title="Email marketing", notice="News by email.", notice_version=2)
STALE_ON_CHANGE = replace(MARKETING, material_change=True)
ANALYTICS = Purpose(key="analytics.segmentation", legal_basis="legitimate_interest",
                    categories=("profile.preferences",), title="Segmentation",
                    notice="We group members.", notice_version=1)
MEMBERSHIP = Purpose(key="loyalty.membership", legal_basis="contract",
                     categories=("identity.name",), title="Membership",
                     notice="Your membership.", notice_version=1, membership=True)

CONSENTED = MemberState(consent_granted=True, consent_version=2)
COVERED = frozenset({"email", "given_name"})
ATTRIBUTES = ("email", "given_name", "phone", "birthdate")


# -- member_reason ------------------------------------------------------------------------


def test_a_consenting_member_may_be_processed() -> None:
    assert member_reason(MARKETING, CONSENTED) is None


def test_a_stranger_and_a_non_consenting_member_look_the_same_for_a_consent_purpose() -> None:
    assert member_reason(MARKETING, NOBODY) == CONSENT_REQUIRED
    assert member_reason(MARKETING, MemberState()) == CONSENT_REQUIRED
    assert decide(MARKETING, COVERED, NOBODY, ATTRIBUTES) == decide(
        MARKETING, COVERED, MemberState(), ATTRIBUTES)


def test_a_stranger_is_not_found_for_a_purpose_that_needs_no_consent() -> None:
    assert member_reason(MEMBERSHIP, NOBODY) == MEMBER_NOT_FOUND
    assert member_reason(ANALYTICS, NOBODY) == MEMBER_NOT_FOUND


def test_a_withdrawn_grant_is_consent_required() -> None:
    withdrawn = MemberState(consent_granted=False, consent_version=2)
    assert member_reason(MARKETING, withdrawn) == CONSENT_REQUIRED


def test_an_erased_member_is_erased_whatever_else_holds() -> None:
    erased = replace(CONSENTED, erased=True, restricted=True, objected=True)
    for purpose in (MARKETING, ANALYTICS, MEMBERSHIP):
        assert member_reason(purpose, erased) == MEMBER_ERASED
    assert member_reason(MARKETING, MemberState(erased=True)) == MEMBER_ERASED


def test_a_grant_of_an_earlier_notice_is_stale_only_after_a_material_change() -> None:
    earlier = MemberState(consent_granted=True, consent_version=1)
    assert member_reason(STALE_ON_CHANGE, earlier) == CONSENT_STALE
    assert member_reason(MARKETING, earlier) is None
    assert member_reason(STALE_ON_CHANGE, CONSENTED) is None


def test_a_grant_without_a_version_is_stale() -> None:
    assert member_reason(MARKETING, MemberState(consent_granted=True)) == CONSENT_STALE


def test_consent_is_checked_before_restriction() -> None:
    restricted = MemberState(restricted=True)
    assert member_reason(MARKETING, restricted) == CONSENT_REQUIRED
    assert member_reason(STALE_ON_CHANGE, replace(restricted, consent_granted=True,
                                                  consent_version=1)) == CONSENT_STALE


@pytest.mark.parametrize("purpose", [MARKETING, ANALYTICS, MEMBERSHIP])
def test_a_restricted_member_is_denied_for_every_purpose(purpose: Purpose) -> None:
    assert member_reason(purpose, replace(CONSENTED, restricted=True)) == (
        PROCESSING_RESTRICTED)


def test_restriction_wins_over_an_objection() -> None:
    both = MemberState(restricted=True, objected=True)
    assert member_reason(ANALYTICS, both) == PROCESSING_RESTRICTED


def test_an_objection_counts_only_for_legitimate_interest_purposes() -> None:
    objected = replace(CONSENTED, objected=True)
    assert member_reason(ANALYTICS, objected) == OBJECTED
    assert member_reason(MARKETING, objected) is None
    assert member_reason(MEMBERSHIP, objected) is None


# -- decide ---------------------------------------------------------------------------------


def test_covered_fields_are_allowed_in_the_order_asked() -> None:
    decision = decide(MARKETING, COVERED, CONSENTED, ["given_name", "email"])
    assert decision.allowed == ("given_name", "email")
    assert decision.denied == {}
    assert decision.permitted and decision.member_reason is None


def test_a_field_outside_the_purpose_is_denied_as_such_even_for_a_permitted_member() -> None:
    decision = decide(MARKETING, COVERED, CONSENTED, ["email", "phone"])
    assert decision.allowed == ("email",)
    assert decision.denied == {"phone": CATEGORY_NOT_IN_PURPOSE}
    assert decision.permitted


def test_the_category_reason_wins_per_field_over_the_members_reason() -> None:
    decision = decide(MARKETING, COVERED, MemberState(erased=True), ["email", "birthdate"])
    assert decision.allowed == ()
    assert decision.denied == {"email": MEMBER_ERASED, "birthdate": CATEGORY_NOT_IN_PURPOSE}
    assert decision.member_reason == MEMBER_ERASED and not decision.permitted


def test_nothing_requested_gives_an_empty_decision_that_still_carries_the_reason() -> None:
    decision = decide(ANALYTICS, COVERED, replace(CONSENTED, objected=True), [])
    assert (decision.allowed, decision.denied, decision.member_reason) == ((), {}, OBJECTED)


STATES = st.builds(MemberState, exists=st.booleans(), erased=st.booleans(),
                   restricted=st.booleans(), objected=st.booleans(),
                   consent_granted=st.booleans(),
                   consent_version=st.none() | st.integers(min_value=1, max_value=3))
PURPOSES = st.sampled_from([MARKETING, STALE_ON_CHANGE, ANALYTICS, MEMBERSHIP])
NAMES = st.sampled_from(ATTRIBUTES + ("postal_address", "preferences"))


@given(PURPOSES, st.frozensets(NAMES), STATES, st.lists(NAMES, unique=True))
def test_every_requested_field_is_either_allowed_or_denied_never_both(
        purpose: Purpose, covered: frozenset[str], state: MemberState,
        requested: list[str]) -> None:
    decision = decide(purpose, covered, state, requested)
    allowed = set(decision.allowed)
    assert allowed | set(decision.denied) == set(requested)
    assert not allowed & set(decision.denied)
    assert decision.member_reason == member_reason(purpose, state)
    for attribute in requested:
        may = attribute in covered and member_reason(purpose, state) is None
        assert (attribute in allowed) == may
