"""Writing outbox events in the same transaction as the change they announce."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from outbox.models import Delivery, OutboxEvent

EVENT_TYPES = ("consent.changed", "member.restricted", "member.objected", "member.rectified",
               "member.erased")


def emit(session: Session, type_: str, member_id: uuid.UUID, facts: dict[str, object],
         recipients: Iterable[str], *, sealed_member_number: bytes | None = None,
         request_id: uuid.UUID | None = None) -> OutboxEvent:
    """Add an event and one pending delivery per recipient; the caller commits both with
    the change itself, so neither can exist without the other."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_}")
    event = OutboxEvent(id=uuid.uuid4(), type=type_, member_id=member_id, facts=facts,
                        sealed_member_number=sealed_member_number, request_id=request_id)
    session.add(event)
    session.flush()  # no relationship() orders the inserts: the event goes first
    for client_id in recipients:
        session.add(Delivery(event_id=event.id, client_id=client_id))
    return event
