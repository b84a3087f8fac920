"""What officers and recipients do with deliveries: list them, replay, acknowledge."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from audit import trail
from outbox.errors import OutboxError
from outbox.models import Delivery, OutboxEvent

STATES = ("pending", "delivered", "dead")
MAX_PAGE = 200


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as officers see it: internal ids and states, never a personal value."""

    id: int
    event_id: uuid.UUID
    event_type: str
    member_id: uuid.UUID
    client_id: str
    state: str
    attempts: int
    last_status: str | None
    event_created_at: dt.datetime
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None
    acknowledged_at: dt.datetime | None

    @classmethod
    def of(cls, delivery: Delivery, event: OutboxEvent) -> DeliveryRow:
        return cls(id=delivery.id, event_id=event.id, event_type=event.type,
                   member_id=event.member_id, client_id=delivery.client_id,
                   state=delivery.state, attempts=delivery.attempts,
                   last_status=delivery.last_status, event_created_at=event.created_at,
                   next_attempt_at=delivery.next_attempt_at, delivered_at=delivery.delivered_at,
                   acknowledged_at=delivery.acknowledged_at)


def page(session: Session, *, state: str | None, client_id: str | None, first: int,
         before_id: int | None) -> list[DeliveryRow]:
    """Deliveries newest first, optionally of one state and one client; ``before_id`` is the
    last id of the previous page."""
    if state is not None and state not in STATES:
        raise OutboxError("INVALID_STATE", f"state must be one of {', '.join(STATES)}",
                          field="state")
    if not 1 <= first <= MAX_PAGE:
        raise OutboxError("INVALID_PAGE_SIZE", f"first must be between 1 and {MAX_PAGE}",
                          field="first")
    query = (select(Delivery, OutboxEvent).join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
             .order_by(Delivery.id.desc()).limit(first))
    if state is not None:
        query = query.where(Delivery.state == state)
    if client_id is not None:
        query = query.where(Delivery.client_id == client_id)
    if before_id is not None:
        query = query.where(Delivery.id < before_id)
    return [DeliveryRow.of(d, e) for d, e in session.execute(query).all()]


def get(session: Session, delivery_id: int) -> DeliveryRow | None:
    row = session.execute(select(Delivery, OutboxEvent)
                          .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
                          .where(Delivery.id == delivery_id)).first()
    return None if row is None else DeliveryRow.of(*row)


def replay(session: Session, delivery_id: int, *, actor: str, now: dt.datetime) -> DeliveryRow:
    """Send a delivery again from scratch: pending, attempts reset, due now. Meant for dead
    deliveries (after the receiver is fixed) and delivered ones (a receiver lost data);
    on a pending one it cuts the back-off short. The ``webhook-id`` stays the same."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise OutboxError("NOT_FOUND", "no such delivery", field="deliveryId")
    event = session.get_one(OutboxEvent, delivery.event_id)
    previous = delivery.state
    delivery.state = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = now
    if previous != "pending":
        delivery.lease_until = None  # a pending one may be in flight: its lease stands
    trail.record(session, actor, "delivery.replayed", event.member_id, delivery_id=delivery.id,
                 event_id=str(event.id), client_id=delivery.client_id, previous_state=previous)
    session.flush()
    return DeliveryRow.of(delivery, event)


def acknowledge(session: Session, client_id: str, event_id: uuid.UUID, *,
                now: dt.datetime) -> DeliveryRow:
    """The recipient ``client_id`` has processed the event (for erasure: it erased the
    member too). Only its own delivery is touched; repeating it keeps the first time."""
    row = session.execute(select(Delivery, OutboxEvent)
                          .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
                          .where(Delivery.event_id == event_id,
                                 Delivery.client_id == client_id)).first()
    if row is None:
        raise OutboxError("NOT_FOUND", "no such event was addressed to this client",
                          field="eventId")
    delivery, event = row
    if delivery.acknowledged_at is None:
        session.execute(update(Delivery).where(Delivery.id == delivery.id,
                                               Delivery.acknowledged_at.is_(None))
                        .values(acknowledged_at=now)
                        .execution_options(synchronize_session=False))
        session.refresh(delivery)
    return DeliveryRow.of(delivery, event)
