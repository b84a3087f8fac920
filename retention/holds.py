"""Legal holds: while one is active, a member is skipped by erasure and every retention rule.

A hold is placed by an officer with a reason (e.g. litigation, a tax audit, a fraud
investigation) and an optional expiry, and lifted by an officer; neither ever deletes the
row, so the history of holds is itself a record. Placing and lifting go to the audit trail.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import or_, select
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
          expires_at: dt.datetime | None = None, *, now: dt.datetime | None = None) -> LegalHold:
    """Place a hold on a member. The reason is recorded and, should the member ask for
    erasure meanwhile, given to them as the reason for the denial: it must not itself
    contain personal data."""
    now = now or utcnow()
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise HoldError("REASON_REQUIRED",
                        f"give a reason of at most {MAX_REASON} characters", field="reason")
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
                     placed_at=now, expires_at=expires_at)
    session.add(hold)
    trail.record(session, actor, "legal_hold.placed", member_id, hold_id=str(hold.id),
                 expires_at=expires_at.isoformat() if expires_at else None)
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


def active_hold(session: Session, member_id: uuid.UUID, now: dt.datetime) -> LegalHold | None:
    """The member's active hold (the earliest placed, if several), or ``None``."""
    return session.scalars(
        select(LegalHold)
        .where(LegalHold.member_id == member_id, LegalHold.lifted_at.is_(None),
               or_(LegalHold.expires_at.is_(None), LegalHold.expires_at > now))
        .order_by(LegalHold.placed_at, LegalHold.id).limit(1)).first()


def holds_of(session: Session, member_id: uuid.UUID) -> list[LegalHold]:
    """Every hold of a member, active or not, newest first."""
    return list(session.scalars(select(LegalHold).where(LegalHold.member_id == member_id)
                                .order_by(LegalHold.placed_at.desc(), LegalHold.id)))


def history(session: Session, member_id: uuid.UUID,
            now: dt.datetime) -> list[tuple[LegalHold, bool]]:
    """Every hold of a member, oldest first, each with whether it is active at ``now``
    (what the member's export lists)."""
    return [(hold, is_active(hold, now)) for hold in reversed(holds_of(session, member_id))]
