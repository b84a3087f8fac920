"""Writing outbox events in the same transaction as the change they announce."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from outbox.models import Delivery, OutboxEvent
from vaultkernel.database import insert_rows

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


@dataclass(frozen=True)
class Emission:
    """One event of a set written by :func:`emit_many`."""

    member_id: uuid.UUID
    facts: dict[str, object]
    recipients: Sequence[str]
    sealed_member_number: bytes | None = None
    request_id: uuid.UUID | None = None


def emit_many(session: Session, type_: str, emissions: Sequence[Emission], *,
              now: dt.datetime) -> list[uuid.UUID]:
    """Add a set of events of one type and their pending deliveries with one INSERT per
    table (what :func:`emit` does, for a batch); the caller commits them with the change.
    Returns the event ids, in the order given."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_}")
    ids = [uuid.uuid4() for _ in emissions]
    if not emissions:
        return ids
    insert_rows(session, OutboxEvent, [
        {"id": event_id, "type": type_, "member_id": e.member_id, "facts": e.facts,
         "sealed_member_number": e.sealed_member_number, "created_at": now,
         "request_id": e.request_id} for event_id, e in zip(ids, emissions, strict=True)])
    deliveries = [{"event_id": event_id, "client_id": client_id, "state": "pending",
                   "attempts": 0, "next_attempt_at": now}
                  for event_id, e in zip(ids, emissions, strict=True)
                  for client_id in e.recipients]
    if deliveries:
        insert_rows(session, Delivery, deliveries)
    return ids
