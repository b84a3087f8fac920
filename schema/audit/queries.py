"""Reads of the access log: the member's own entries; officers' filtered log and the
verification of its hash chain."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from audit import log_view, verification
from audit.log_view import LogFilter, Position
from schema.access import Role, guarded
from schema.audit.types import (
    AccessLogFilter,
    AccessLogItem,
    AccessLogPage,
    AccessLogVerification,
)
from schema.consent.types import DeniedField, DeniedReason
from schema.cursors import InvalidCursor
from schema.identity.types import parse_member_id
from vaultkernel.errors import DomainError

MAX_LOG_PAGE = 200


def log_page(info: Info, flt: LogFilter, first: int, after: str | None) -> AccessLogPage:
    ctx = info.context
    if not 1 <= first <= MAX_LOG_PAGE:
        raise DomainError("INVALID_PAGE_SIZE", f"first must be between 1 and {MAX_LOG_PAGE}")
    bound = f"access-log:{ctx.principal.actor}"
    position = _position(ctx.services.cursors.decode(after, bound_to=bound)) if after else None
    entries, following = log_view.page(ctx.uow.session, flt, first, position)
    items = [AccessLogItem(
        sequence=e.sequence, at=e.at, principal=e.principal, purpose=e.purpose,
        member_id=strawberry.ID(str(e.member_id)), fields_returned=list(e.returned),
        fields_denied=[DeniedField(field=f, reason=DeniedReason(r))
                       for f, r in e.denied.items()])
        for e in entries]
    cursor = (ctx.services.cursors.encode(following.sequence.to_bytes(8, "big")
                                          + following.offset.to_bytes(4, "big"), bound_to=bound)
              if following else None)
    return AccessLogPage(items=items, next_cursor=cursor)


def _instant(value: dt.datetime | None, name: str) -> dt.datetime | None:
    """A point in time: a date-time without an offset is ambiguous, so it is refused."""
    if value is not None and value.utcoffset() is None:
        raise DomainError("INVALID_DATETIME", f"{name} needs a time zone offset (e.g. Z)")
    return value


def _position(raw: bytes) -> Position:
    if len(raw) != 12:
        raise InvalidCursor()
    return Position(int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big"))


@strawberry.type
class MyAccessLogQuery:
    @strawberry.field(description="Who read your data, for which purpose, and when; newest "
                      "first.", extensions=guarded(Role.MEMBER_SELF))
    def my_access_log(self, info: Info, first: int = 50,
                      after: str | None = None) -> AccessLogPage:
        return log_page(info, LogFilter(member_id=info.context.principal.member_id), first, after)


@strawberry.type
class AccessLogQuery:
    @strawberry.field(description="The access log, newest first, filtered.",
                      extensions=guarded(Role.OFFICER))
    def access_log(self, info: Info, filter: AccessLogFilter | None = None, first: int = 50,
                   after: str | None = None) -> AccessLogPage:
        f = filter or AccessLogFilter()
        flt = LogFilter(principal=f.principal, purpose=f.purpose,
                        member_id=parse_member_id(f.member_id) if f.member_id else None,
                        since=_instant(f.since, "since"), until=_instant(f.until, "until"))
        return log_page(info, flt, first, after)

    @strawberry.field(description="Check the access log's hash chain end to end.",
                      extensions=guarded(Role.OFFICER, Role.ADMIN))
    def verify_access_log(self, info: Info) -> AccessLogVerification:
        ctx = info.context
        result = verification.verify(ctx.uow.session, ctx.services.notary)
        return AccessLogVerification(ok=result.ok, checked=result.checked,
                                     first_broken_sequence=result.first_broken_sequence,
                                     problem=result.problem)
