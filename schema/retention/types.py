"""GraphQL types of retention: the schedule and legal holds."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum

import strawberry

from retention import holds
from retention.models import LegalHold
from schema.access import Role, reachable_by
from schema.errors import FieldError
from vaultkernel.errors import DomainError


@strawberry.enum(description="What a retention rule does when its time has come.")
class RetentionAction(Enum):
    ERASE = "erase"
    DELETE = "delete"


@strawberry.type(description="How long one kind of your data is kept, and what then happens.",
                 directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class RetentionScheduleItem:
    rule: str
    applies_to: str
    after: str
    action: RetentionAction
    description: str


@strawberry.type(description="A legal hold: while active, the member is skipped by erasure "
                 "and by every retention rule.", directives=reachable_by(Role.OFFICER))
class LegalHoldView:
    id: strawberry.ID
    member_id: strawberry.ID
    reason: str
    placed_by: str
    placed_at: dt.datetime
    expires_at: dt.datetime | None
    lifted_at: dt.datetime | None
    lifted_by: str | None
    active: bool
    categories: list[str] | None = strawberry.field(
        description="The data categories the hold keeps; null: all the member's data.")

    @classmethod
    def of(cls, hold: LegalHold, now: dt.datetime) -> LegalHoldView:
        return cls(id=strawberry.ID(str(hold.id)), member_id=strawberry.ID(str(hold.member_id)),
                   reason=hold.reason, placed_by=hold.placed_by, placed_at=hold.placed_at,
                   expires_at=hold.expires_at, lifted_at=hold.lifted_at,
                   lifted_by=hold.lifted_by, active=holds.is_active(hold, now),
                   categories=list(hold.categories) if hold.categories is not None else None)


@strawberry.type(directives=reachable_by(Role.OFFICER))
class LegalHoldPage:
    items: list[LegalHoldView]
    next_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last page.")


@strawberry.type(directives=reachable_by(Role.OFFICER))
class LegalHoldPayload:
    hold: LegalHoldView | None
    errors: list[FieldError]


def parse_internal_id(value: str, name: str) -> uuid.UUID:
    """A member's or a hold's internal id given as the ``ID`` argument ``name``."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        code = "INVALID_MEMBER_ID" if name == "memberId" else "INVALID_HOLD_ID"
        raise DomainError(code, f"{name} must be an internal id") from None
