"""The events each kind of change announces, and to whom (GDPR Art. 19)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from outbox.recipients import purposes_with_data, recipients
from outbox.writer import emit
from vaultkernel.policy import Policy


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
