"""Retention as members, clients and officers meet it: the schedule, activity, the ROPA."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from retention import service
from retention.ropa import record_of_processing
from schema.access import MEMBERSHIP, Role, guarded, reachable_by
from schema.enums import RetentionAction
from vaultkernel.clock import utcnow


@strawberry.type(description="How long one kind of your data is kept, and what then happens.",
                 directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class RetentionScheduleItem:
    rule: str
    applies_to: str
    after: str
    action: RetentionAction
    description: str


@strawberry.type
class RetentionQuery:
    @strawberry.field(description="The retention schedule that applies to your data.",
                      extensions=guarded(Role.MEMBER_SELF))
    def my_retention_schedule(self, info: Info) -> list[RetentionScheduleItem]:
        return [RetentionScheduleItem(rule=r.name, applies_to=r.applies_to, after=str(r.after),
                                      action=RetentionAction(r.action), description=r.describe())
                for r in info.context.services.policy.retention.values()]

    @strawberry.field(description="The record of processing activities (GDPR Art. 30), "
                      "generated from the enforced policy.",
                      extensions=guarded(Role.OFFICER, Role.ADMIN))
    def record_of_processing(self, info: Info) -> JSON:
        return JSON(record_of_processing(info.context.services.policy))


@strawberry.type
class RetentionMutation:
    @strawberry.mutation(description="Report members' latest activity (purchases, visits); "
                         "returns how many member numbers were well-formed.",
                         extensions=guarded(Role.CLIENT, purpose=MEMBERSHIP))
    def record_activity(self, info: Info, member_numbers: list[str],
                        at: dt.datetime | None = None) -> int:
        ctx = info.context
        return service.record_activity(ctx.uow, ctx.services.crypto, member_numbers, at=at,
                                       now=utcnow())
