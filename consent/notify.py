"""The events each kind of change announces, and to whom (GDPR Art. 19).

Who must learn about a change is decided here, in ``consent``, because the consent records
say it: the clients whose purposes may have given them the member's data are those
registered for a purpose that does not rest on consent, or for a consent purpose the
member ever granted (:func:`purposes_with_data`). The outbox writes the events and picks
the clients registered for those purposes (``outbox.recipients``).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.models import ConsentRecord
from outbox.recipients import recipients
from outbox.writer import emit
from vaultkernel.policy import Policy


def purposes_with_data(session: Session, policy: Policy, member_id: uuid.UUID) -> set[str]:
    """Purposes under which the member's data may have been read: every non-consent
    purpose, and each consent purpose the member ever granted."""
    granted = set(session.scalars(
        select(ConsentRecord.purpose).where(ConsentRecord.member_id == member_id,
                                            ConsentRecord.granted.is_(True)).distinct()))
    return {p.key for p in policy.purposes.values() if not p.consent_based} | granted


def consent_changed(session: Session, member_id: uuid.UUID, purpose: str, granted: bool,
                    notice_version: int) -> None:
    emit(session, "consent.changed", member_id,
         {"purpose": purpose, "granted": granted, "noticeVersion": notice_version},
         recipients(session, {purpose}))


def restricted(session: Session, policy: Policy, member_id: uuid.UUID, on: bool) -> None:
    emit(session, "member.restricted", member_id, {"restricted": on},
         recipients(session, purposes_with_data(session, policy, member_id)))


def objected(session: Session, member_id: uuid.UUID, purpose: str, on: bool) -> None:
    emit(session, "member.objected", member_id, {"purpose": purpose, "objected": on},
         recipients(session, {purpose}))


def rectified(session: Session, policy: Policy, member_id: uuid.UUID,
              fields: list[str]) -> None:
    emit(session, "member.rectified", member_id, {"fields": sorted(fields)},
         recipients(session, purposes_with_data(session, policy, member_id)))
