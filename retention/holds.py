"""Legal holds: while one is active, every retention rule skips the member, and an erasure
request erases only what the hold does not cover.

A hold is placed by an officer with a reason (e.g. litigation, a tax audit, a fraud
investigation), the data categories it covers (all of the member's personal data when
none are named) and an optional expiry, and lifted by an officer; neither ever deletes
the row, so the history of holds is itself a record. Placing and lifting go to the audit
trail. :func:`coverage` says what the active holds of some members keep.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Exists, and_, or_, select
from sqlalchemy.orm import Session

from audit import trail
from identity.models import Member
from retention.models import LegalHold
from vaultkernel.clock import utcnow
from vaultkernel.errors import DomainError

MAX_REASON = 1000


class HoldError(DomainError):
    """A refused hold operation, with a stable code (and the input field, if any)."""

    def __init__(self, code: str, message: str, *, field: str | None = None):
        super().__init__(code, message, field)


def is_active(hold: LegalHold, now: dt.datetime) -> bool:
    return hold.lifted_at is None and (hold.expires_at is None or hold.expires_at > now)


def place(session: Session, member_id: uuid.UUID, reason: str, actor: str,
          expires_at: dt.datetime | None = None, *, now: dt.datetime | None = None,
          categories: Sequence[str] | None = None,
          known_categories: Collection[str] = ()) -> LegalHold:
    """Place a hold on a member, keeping ``categories`` (of ``known_categories``, the
    policy's) or, when none are given, all of the member's personal data. The reason is
    recorded and, should the member ask for erasure meanwhile, given to them as the
    reason what it covers is kept: it must not itself contain personal data."""
    now = now or utcnow()
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise HoldError("REASON_REQUIRED",
                        f"give a reason of at most {MAX_REASON} characters", field="reason")
    covered = sorted(set(categories)) if categories else None
    unknown = [c for c in covered or () if c not in known_categories]
    if unknown:
        raise HoldError("UNKNOWN_CATEGORY", f"no data category {unknown[0]!r} in the policy",
                        field="categories")
    if expires_at is not None:
        if expires_at.utcoffset() is None:
            raise HoldError("INVALID_DATETIME", "expiresAt needs a time zone offset (e.g. Z)",
                            field="expiresAt")
        if expires_at <= now:
            raise HoldError("EXPIRY_IN_PAST", "expiresAt must be in the future",
                            field="expiresAt")
    if session.get(Member, member_id) is None:
        raise HoldError("MEMBER_NOT_FOUND", "no such member", field="memberId")
    hold = LegalHold(id=uuid.uuid4(), member_id=member_id, reason=reason, placed_by=actor,
                     placed_at=now, expires_at=expires_at, categories=covered)
    session.add(hold)
    trail.record(session, actor, "legal_hold.placed", member_id, hold_id=str(hold.id),
                 expires_at=expires_at.isoformat() if expires_at else None,
                 categories=covered)
    return hold


def lift(session: Session, hold_id: uuid.UUID, actor: str, *,
         now: dt.datetime | None = None) -> LegalHold:
    """Lift a hold; lifting one already lifted changes nothing (and is not an error)."""
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise HoldError("NOT_FOUND", "no such legal hold", field="holdId")
    if hold.lifted_at is None:
        hold.lifted_at = now or utcnow()
        hold.lifted_by = actor
        trail.record(session, actor, "legal_hold.lifted", hold.member_id, hold_id=str(hold.id))
    return hold


def _active(now: dt.datetime) -> ColumnElement[bool]:
    return and_(LegalHold.lifted_at.is_(None),
                or_(LegalHold.expires_at.is_(None), LegalHold.expires_at > now))


def active_hold(session: Session, member_id: uuid.UUID, now: dt.datetime) -> LegalHold | None:
    """The member's active hold (the earliest placed, if several), or ``None``."""
    return session.scalars(
        select(LegalHold).where(LegalHold.member_id == member_id, _active(now))
        .order_by(LegalHold.placed_at, LegalHold.id).limit(1)).first()


def active_clause(member_id: Any, now: dt.datetime) -> Exists:
    """SQL: the member (a column or value) has an active hold at ``now``."""
    return (select(LegalHold.id).where(LegalHold.member_id == member_id, _active(now))
            .exists())


@dataclass(frozen=True)
class Coverage:
    """What a member's active holds keep: some data categories, or everything (``None``)."""

    holds: tuple[LegalHold, ...]
    categories: frozenset[str] | None

    def keeps(self, category: str) -> bool:
        return self.categories is None or category in self.categories

    @property
    def latest_expiry(self) -> dt.datetime | None:
        """When the last of the holds ends by itself (``None``: one has no expiry)."""
        expiries = [h.expires_at for h in self.holds]
        return None if any(e is None for e in expiries) else max(
            e for e in expiries if e is not None)


def coverage(session: Session, member_ids: Sequence[uuid.UUID],
             now: dt.datetime) -> dict[uuid.UUID, Coverage]:
    """Per member with an active hold, what the active holds keep together (one query)."""
    found: dict[uuid.UUID, list[LegalHold]] = {}
    for hold in session.scalars(select(LegalHold).where(
            LegalHold.member_id.in_(list(member_ids)), _active(now))
            .order_by(LegalHold.placed_at, LegalHold.id)):
        found.setdefault(hold.member_id, []).append(hold)
    result = {}
    for member_id, held in found.items():
        categories: frozenset[str] | None = frozenset()
        for hold in held:
            if hold.categories is None or categories is None:
                categories = None
            else:
                categories = categories | set(hold.categories)
        result[member_id] = Coverage(tuple(held), categories)
    return result


def holds_of(session: Session, member_id: uuid.UUID) -> list[LegalHold]:
    """Every hold of a member, active or not, newest first."""
    return list(session.scalars(select(LegalHold).where(LegalHold.member_id == member_id)
                                .order_by(LegalHold.placed_at.desc(), LegalHold.id)))


def history(session: Session, member_id: uuid.UUID,
            now: dt.datetime) -> list[tuple[LegalHold, bool]]:
    """Every hold of a member, oldest first, each with whether it is active at ``now``
    (what the member's export lists)."""
    return [(hold, is_active(hold, now)) for hold in reversed(holds_of(session, member_id))]
