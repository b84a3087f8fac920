"""Officers place and lift legal holds; clients report members' activity."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from retention import service
from schema.access import MEMBERSHIP, Role, guarded
from schema.errors import field_errors
from schema.retention.types import LegalHoldPayload, LegalHoldView, parse_internal_id
from vaultkernel.errors import DomainError


def _instant(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.utcoffset() is None:
        raise DomainError("INVALID_DATETIME", "expiresAt needs a time zone offset (e.g. Z)")
    return value


@strawberry.type
class RetentionMutation:
    @strawberry.mutation(description="Place a legal hold on a member, keeping the data "
                         "categories named (all their personal data when none are): "
                         "retention skips the member while it is active, and an erasure "
                         "erases only what it does not cover, restricting the rest. The "
                         "reason is told to the member if an erasure is held by it: no "
                         "personal data in it.", extensions=guarded(Role.OFFICER))
    def place_legal_hold(self, info: Info, member_id: strawberry.ID, reason: str,
                         expires_at: dt.datetime | None = None,
                         categories: list[str] | None = None) -> LegalHoldPayload:
        ctx = info.context
        now = ctx.services.clock.now()
        target, expiry = parse_internal_id(member_id, "memberId"), _instant(expires_at)
        try:
            hold = service.place_legal_hold(ctx.uow, target, reason, actor=ctx.principal.actor,
                                            expires_at=expiry, now=now, categories=categories,
                                            policy=ctx.services.policy)
        except DomainError as exc:
            return LegalHoldPayload(hold=None, errors=field_errors(exc))
        return LegalHoldPayload(hold=LegalHoldView.of(hold, now), errors=[])

    @strawberry.mutation(description="Lift a legal hold (lifting one already lifted changes "
                         "nothing).", extensions=guarded(Role.OFFICER))
    def lift_legal_hold(self, info: Info, hold_id: strawberry.ID) -> LegalHoldPayload:
        ctx = info.context
        now = ctx.services.clock.now()
        target = parse_internal_id(hold_id, "holdId")
        try:
            hold = service.lift_legal_hold(ctx.uow, target, actor=ctx.principal.actor, now=now)
        except DomainError as exc:
            return LegalHoldPayload(hold=None, errors=field_errors(exc))
        return LegalHoldPayload(hold=LegalHoldView.of(hold, now), errors=[])

    @strawberry.mutation(description="Report members' latest activity (purchases, visits); "
                         "returns how many member numbers were well-formed.",
                         extensions=guarded(Role.CLIENT, purpose=MEMBERSHIP))
    def record_activity(self, info: Info, member_numbers: list[str],
                        at: dt.datetime | None = None) -> int:
        ctx = info.context
        return service.record_activity(ctx.uow, ctx.services.crypto, member_numbers, at=at,
                                       now=ctx.services.clock.now())
