"""Recording administrative events."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from audit.models import AuditEvent


def record(session: Session, actor: str, action: str, member_id: uuid.UUID | None = None,
           **details: object) -> AuditEvent:
    event = AuditEvent(actor=actor, action=action, member_id=member_id, details=details)
    session.add(event)
    return event
