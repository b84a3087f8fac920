"""Recipients acknowledge events delivered to them; officers replay dead deliveries."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from outbox import service
from outbox.errors import OutboxError
from schema.access import Role, guarded
from schema.errors import field_errors
from schema.outbox.types import (
    Acknowledgement,
    AcknowledgePayload,
    Delivery,
    EventType,
    ReplayPayload,
)
from vaultkernel.errors import DomainError


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
class DeliveryMutation:
    @strawberry.mutation(description="Acknowledge an event delivered to you (for "
                         "member.erased: you have erased the member too). Idempotent; "
                         "an event not addressed to you is NOT_FOUND.",
                         extensions=guarded(Role.CLIENT))
    def acknowledge_event(self, info: Info, event_id: strawberry.ID) -> AcknowledgePayload:
        ctx = info.context
        try:
            row = service.acknowledge_event(ctx.uow, str(ctx.principal.client_id),
                                            _event_id(event_id), now=ctx.services.clock.now())
        except DomainError as exc:
            return AcknowledgePayload(acknowledgement=None, errors=field_errors(exc))
        assert row.acknowledged_at is not None
        return AcknowledgePayload(acknowledgement=Acknowledgement(
            event_id=strawberry.ID(str(row.event_id)), event_type=EventType(row.event_type),
            acknowledged_at=row.acknowledged_at), errors=[])

    @strawberry.mutation(description="Send a dead (or delivered) delivery again: back to "
                         "pending with its attempts reset, due now.",
                         extensions=guarded(Role.OFFICER))
    def replay_delivery(self, info: Info, delivery_id: strawberry.ID) -> ReplayPayload:
        ctx = info.context
        try:
            row = service.replay_delivery(ctx.uow, _delivery_id(delivery_id),
                                          actor=ctx.principal.actor, now=ctx.services.clock.now())
        except DomainError as exc:
            return ReplayPayload(delivery=None, errors=field_errors(exc))
        return ReplayPayload(delivery=Delivery.of(row), errors=[])
