"""GraphQL types of webhook deliveries and recipients' acknowledgements."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from outbox import tracking
from schema.access import Role, reachable_by
from schema.errors import FieldError


@strawberry.enum(description="Where one webhook delivery stands (docs/webhooks.md).")
class DeliveryState(Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@strawberry.enum(description="What an event says happened; the webhook's `type` is the "
                 "value in lower case with a dot (CONSENT_CHANGED: consent.changed).")
class EventType(Enum):
    CONSENT_CHANGED = "consent.changed"
    MEMBER_RESTRICTED = "member.restricted"
    MEMBER_OBJECTED = "member.objected"
    MEMBER_RECTIFIED = "member.rectified"
    MEMBER_ERASED = "member.erased"


@strawberry.type(description="One event to one recipient. Internal ids only: the member "
                 "number the webhook carried is never shown.",
                 directives=reachable_by(Role.OFFICER))
class Delivery:
    id: strawberry.ID
    event_id: strawberry.ID
    event_type: EventType
    member_id: strawberry.ID = strawberry.field(description="The member's internal id.")
    client_id: str
    state: DeliveryState
    attempts: int
    last_status: str | None = strawberry.field(
        description="The last outcome: 'HTTP 503', a connection error's name, or why the "
        "delivery could not be made (NO_WEBHOOK, CLIENT_DISABLED, ...).")
    event_created_at: dt.datetime
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None
    acknowledged_at: dt.datetime | None

    @classmethod
    def of(cls, row: tracking.DeliveryRow) -> Delivery:
        return cls(id=strawberry.ID(str(row.id)), event_id=strawberry.ID(str(row.event_id)),
                   event_type=EventType(row.event_type),
                   member_id=strawberry.ID(str(row.member_id)),
                   client_id=row.client_id, state=DeliveryState(row.state), attempts=row.attempts,
                   last_status=row.last_status, event_created_at=row.event_created_at,
                   next_attempt_at=row.next_attempt_at, delivered_at=row.delivered_at,
                   acknowledged_at=row.acknowledged_at)


@strawberry.type(directives=reachable_by(Role.OFFICER))
class DeliveryPage:
    items: list[Delivery]
    next_cursor: str | None


@strawberry.type(directives=reachable_by(Role.OFFICER))
class ReplayPayload:
    delivery: Delivery | None
    errors: list[FieldError]


@strawberry.type(description="Your acknowledgement of an event delivered to you.",
                 directives=reachable_by(Role.CLIENT))
class Acknowledgement:
    event_id: strawberry.ID
    event_type: EventType
    acknowledged_at: dt.datetime


@strawberry.type(directives=reachable_by(Role.CLIENT))
class AcknowledgePayload:
    acknowledgement: Acknowledgement | None
    errors: list[FieldError]
