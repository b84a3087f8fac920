"""Webhook deliveries: recipients acknowledge events; officers watch, and replay dead ones."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry
from strawberry.types import Info

from outbox import service, tracking
from outbox.errors import OutboxError
from schema.access import Role, guarded, reachable_by
from schema.enums import DeliveryState
from schema.errors import FieldError, field_errors
from vaultkernel.clock import utcnow
from vaultkernel.errors import DomainError


@strawberry.type(description="One event to one recipient. Internal ids only: the member "
                 "number the webhook carried is never shown.",
                 directives=reachable_by(Role.OFFICER))
class Delivery:
    id: strawberry.ID
    event_id: strawberry.ID
    event_type: str
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
                   event_type=row.event_type, member_id=strawberry.ID(str(row.member_id)),
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
    event_type: str
    acknowledged_at: dt.datetime


@strawberry.type(directives=reachable_by(Role.CLIENT))
class AcknowledgePayload:
    acknowledgement: Acknowledgement | None
    errors: list[FieldError]


# Ids are opaque to callers: a malformed one names nothing, like an unknown one.
def _no_event() -> OutboxError:
    return OutboxError("NOT_FOUND", "no such event was addressed to this client",
                       field="eventId")


def _no_delivery() -> OutboxError:
    return OutboxError("NOT_FOUND", "no such delivery", field="deliveryId")


def _event_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise _no_event() from None


def _delivery_id(value: str) -> int:
    try:
        parsed = int(str(value))
    except ValueError:
        raise _no_delivery() from None
    if not 0 < parsed < 2**31:
        raise _no_delivery()
    return parsed


@strawberry.type
class DeliveryQuery:
    @strawberry.field(description="Webhook deliveries, newest first; filter by state "
                      "and recipient.", extensions=guarded(Role.OFFICER))
    def deliveries(self, info: Info, state: DeliveryState | None = None,
                   client_id: str | None = None, first: int = 50,
                   after: str | None = None) -> DeliveryPage:
        ctx = info.context
        bound = f"deliveries:{ctx.principal.actor}"
        before = ctx.services.cursors.decode_int(after, bound_to=bound) if after else None
        rows = tracking.page(ctx.uow.session, state=state.value if state else None,
                             client_id=client_id,
                             first=first, before_id=before)
        cursor = (ctx.services.cursors.encode_int(rows[-1].id, bound_to=bound)
                  if len(rows) == first else None)
        return DeliveryPage(items=[Delivery.of(r) for r in rows], next_cursor=cursor)


@strawberry.type
class DeliveryMutation:
    @strawberry.mutation(description="Acknowledge an event delivered to you (for "
                         "member.erased: you have erased the member too). Idempotent; "
                         "an event not addressed to you is NOT_FOUND.",
                         extensions=guarded(Role.CLIENT))
    def acknowledge_event(self, info: Info, event_id: strawberry.ID) -> AcknowledgePayload:
        ctx = info.context
        try:
            row = service.acknowledge_event(ctx.uow, str(ctx.principal.client_id),
                                            _event_id(event_id), now=utcnow())
        except DomainError as exc:
            return AcknowledgePayload(acknowledgement=None, errors=field_errors(exc))
        assert row.acknowledged_at is not None
        return AcknowledgePayload(acknowledgement=Acknowledgement(
            event_id=strawberry.ID(str(row.event_id)), event_type=row.event_type,
            acknowledged_at=row.acknowledged_at), errors=[])

    @strawberry.mutation(description="Send a dead (or delivered) delivery again: back to "
                         "pending with its attempts reset, due now.",
                         extensions=guarded(Role.OFFICER))
    def replay_delivery(self, info: Info, delivery_id: strawberry.ID) -> ReplayPayload:
        ctx = info.context
        try:
            row = service.replay_delivery(ctx.uow, _delivery_id(delivery_id),
                                          actor=ctx.principal.actor, now=utcnow())
        except DomainError as exc:
            return ReplayPayload(delivery=None, errors=field_errors(exc))
        return ReplayPayload(delivery=Delivery.of(row), errors=[])
