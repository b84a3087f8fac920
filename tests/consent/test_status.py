"""A member's consent overview (consent.status.overview): every purpose of the policy, each
with the status the member sees, computed from the projection without a database."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

from consent.models import Consent
from consent.status import overview
from membervault.services import load_member_policy
from vaultkernel.policy import Policy

POLICY = load_member_policy()
MEMBER = uuid.uuid4()
AT = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def consent(purpose: str, granted: bool, version: int = 1) -> Consent:
    return Consent(member_id=MEMBER, purpose=purpose, granted=granted, notice_version=version,
                   updated_at=AT, record_id=1)


def statuses(policy: Policy, *rows: Consent, objected: tuple[str, ...] = ()) -> dict[str, str]:
    return {s.purpose.key: s.status
            for s in overview(policy, {r.purpose: r for r in rows}, objected)}


def test_every_purpose_is_listed_in_policy_order() -> None:
    result = overview(POLICY, {}, [])
    assert [s.purpose.key for s in result] == list(POLICY.purposes)


def test_a_new_member_has_given_nothing_and_non_consent_purposes_say_so() -> None:
    result = statuses(POLICY)
    assert result["marketing.email"] == "not_given"
    assert result["loyalty.membership"] == "not_consent_based"
    assert result["analytics.segmentation"] == "not_consent_based"


def test_granted_and_withdrawn_show_with_the_granted_version_and_time() -> None:
    result = {s.purpose.key: s for s in overview(POLICY, {
        "marketing.email": consent("marketing.email", True),
        "marketing.sms": consent("marketing.sms", False)}, [])}
    email, sms = result["marketing.email"], result["marketing.sms"]
    assert (email.status, email.granted_notice_version, email.updated_at) == ("granted", 1, AT)
    assert (sms.status, sms.granted_notice_version, sms.updated_at) == ("withdrawn", None, AT)
    assert result["marketing.push"].updated_at is None


def test_a_grant_of_an_earlier_notice_is_stale_after_a_material_change_only() -> None:
    changed = replace(POLICY, purposes={**POLICY.purposes, "marketing.email": replace(
        POLICY.purposes["marketing.email"], notice_version=2, material_change=True)})
    minor = replace(POLICY, purposes={**POLICY.purposes, "marketing.email": replace(
        POLICY.purposes["marketing.email"], notice_version=2)})
    grant = consent("marketing.email", True, version=1)
    assert statuses(changed, grant)["marketing.email"] == "stale"
    assert statuses(minor, grant)["marketing.email"] == "granted"
    assert statuses(changed, consent("marketing.email", True, 2))["marketing.email"] == (
        "granted")


def test_objections_are_flagged_on_their_purpose_only() -> None:
    result = {s.purpose.key: s.objected
              for s in overview(POLICY, {}, iter(["analytics.segmentation"]))}
    assert result["analytics.segmentation"] is True
    assert not any(v for k, v in result.items() if k != "analytics.segmentation")
