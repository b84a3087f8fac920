"""GraphQL types of the access log: its entries, pages, filter and verification."""

from __future__ import annotations

import datetime as dt

import strawberry

from schema.access import Role, reachable_by
from schema.consent.types import DeniedField


@strawberry.type(description="One read of member data: who, why, which fields.",
                 directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class AccessLogItem:
    sequence: int
    at: dt.datetime
    principal: str
    purpose: str
    member_id: strawberry.ID
    fields_returned: list[str]
    fields_denied: list[DeniedField]


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class AccessLogPage:
    items: list[AccessLogItem]
    next_cursor: str | None


@strawberry.type(description="The result of walking the access log's hash chain.",
                 directives=reachable_by(Role.OFFICER, Role.ADMIN))
class AccessLogVerification:
    ok: bool
    checked: int
    first_broken_sequence: int | None
    problem: str | None


@strawberry.input
class AccessLogFilter:
    principal: str | None = None
    purpose: str | None = None
    member_id: strawberry.ID | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
