"""Retention as members and officers read it: legal holds, the schedule, the ROPA."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from retention import holds, service
from schema import paging
from schema.access import Role, guarded
from schema.retention.types import (
    LegalHoldPage,
    LegalHoldView,
    RetentionAction,
    RetentionScheduleItem,
    parse_internal_id,
)


@strawberry.type
class LegalHoldQuery:
    @strawberry.field(description="A member's legal holds, active or not, newest first, a "
                      "page at a time.", extensions=guarded(Role.OFFICER))
    def legal_holds(self, info: Info, member_id: strawberry.ID,
                    first: int = paging.DEFAULT_PAGE,
                    after: str | None = None) -> LegalHoldPage:
        ctx = info.context
        member = parse_internal_id(member_id, "memberId")
        page, following = paging.in_memory(
            ctx.services.cursors, holds.holds_of(ctx.uow.session, member), field="legalHolds",
            caller=ctx.principal.actor, first=first, after=after, filters=member.hex)
        now = ctx.services.clock.now()
        return LegalHoldPage(items=[LegalHoldView.of(h, now) for h in page],
                             next_cursor=following)


@strawberry.type
class RetentionQuery:
    @strawberry.field(description="The retention schedule that applies to your data.",
                      extensions=guarded(Role.MEMBER_SELF))
    def my_retention_schedule(self, info: Info) -> list[RetentionScheduleItem]:
        return [RetentionScheduleItem(rule=r.name, applies_to=r.applies_to, after=str(r.after),
                                      action=RetentionAction(r.action), description=r.describe())
                for r in info.context.services.policy.retention.values()]

    @strawberry.field(description="The record of processing activities (GDPR Art. 30), "
                      "generated from the enforced policy and the registered clients.",
                      extensions=guarded(Role.OFFICER, Role.ADMIN))
    def record_of_processing(self, info: Info) -> JSON:
        return JSON(service.record_of_processing(info.context.uow,
                                                 info.context.services.policy))
