"""Access decisions: pure functions over inputs loaded in bulk (design rule 1).

``decide`` never touches the database; the gate loads every member's state for a page in
one statement and asks here, member by member, field by field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vaultkernel.policy import Purpose

CONSENT_REQUIRED = "CONSENT_REQUIRED"
CONSENT_STALE = "CONSENT_STALE"
CATEGORY_NOT_IN_PURPOSE = "CATEGORY_NOT_IN_PURPOSE"
PROCESSING_RESTRICTED = "PROCESSING_RESTRICTED"
OBJECTED = "OBJECTED"
MEMBER_ERASED = "MEMBER_ERASED"
MEMBER_NOT_FOUND = "MEMBER_NOT_FOUND"
PURPOSE_NOT_PERMITTED = "PURPOSE_NOT_PERMITTED"

REASONS = (CONSENT_REQUIRED, CONSENT_STALE, CATEGORY_NOT_IN_PURPOSE, PROCESSING_RESTRICTED,
           OBJECTED, MEMBER_ERASED, MEMBER_NOT_FOUND, PURPOSE_NOT_PERMITTED)


@dataclass(frozen=True)
class MemberState:
    """What the decision needs to know about one member, for one purpose."""

    exists: bool = True
    erased: bool = False
    restricted: bool = False
    objected: bool = False
    consent_granted: bool = False
    consent_version: int | None = None


NOBODY = MemberState(exists=False)


@dataclass(frozen=True)
class AccessDecision:
    allowed: tuple[str, ...]
    denied: dict[str, str] = field(default_factory=dict)
    member_reason: str | None = None

    @property
    def permitted(self) -> bool:
        return self.member_reason is None


def member_reason(purpose: Purpose, state: MemberState) -> str | None:
    """Why this member's data may not be processed for the purpose, or ``None``.

    For a consent-based purpose, a member who does not exist looks exactly like one who
    has not consented, so a client cannot learn whether someone is a member.
    """
    if not state.exists:
        return CONSENT_REQUIRED if purpose.consent_based else MEMBER_NOT_FOUND
    if state.erased:
        return MEMBER_ERASED
    if purpose.consent_based:
        if not state.consent_granted:
            return CONSENT_REQUIRED
        if state.consent_version is None or not purpose.grant_is_current(state.consent_version):
            return CONSENT_STALE
    if state.restricted:
        return PROCESSING_RESTRICTED
    if purpose.objectable and state.objected:
        return OBJECTED
    return None


def decide(purpose: Purpose, covered: frozenset[str], state: MemberState,
           requested: Iterable[str]) -> AccessDecision:
    """Allow each requested attribute, or deny it with a reason code."""
    reason = member_reason(purpose, state)
    allowed: list[str] = []
    denied: dict[str, str] = {}
    for attribute in requested:
        if attribute not in covered:
            denied[attribute] = CATEGORY_NOT_IN_PURPOSE
        elif reason is not None:
            denied[attribute] = reason
        else:
            allowed.append(attribute)
    return AccessDecision(tuple(allowed), denied, reason)
