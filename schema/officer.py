"""Compliance officers: the access log, its verification, consent proof, restriction."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry
from strawberry.types import Info

from audit import access_log
from audit.access_log import LogFilter
from consent import ledger, service
from schema.access import Role, guarded, reachable_by
from schema.member_privacy import (
    AccessLogPage,
    ConsentReceipt,
    ConsentRecordView,
    ProcessingPayload,
    log_page,
    processing_payload,
    receipt_of,
)
from vaultkernel.errors import DomainError


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


def _member_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError("INVALID_MEMBER_ID", "memberId must be a member's internal id") from None


def _instant(value: dt.datetime | None, name: str) -> dt.datetime | None:
    """A point in time: a date-time without an offset is ambiguous, so it is refused."""
    if value is not None and value.utcoffset() is None:
        raise DomainError("INVALID_DATETIME", f"{name} needs a time zone offset (e.g. Z)")
    return value


@strawberry.type
class OfficerQuery:
    @strawberry.field(description="The access log, newest first, filtered.",
                      extensions=guarded(Role.OFFICER))
    def access_log(self, info: Info, filter: AccessLogFilter | None = None, first: int = 50,
                   after: str | None = None) -> AccessLogPage:
        f = filter or AccessLogFilter()
        flt = LogFilter(principal=f.principal, purpose=f.purpose,
                        member_id=_member_id(f.member_id) if f.member_id else None,
                        since=_instant(f.since, "since"), until=_instant(f.until, "until"))
        return log_page(info, flt, first, after)

    @strawberry.field(description="Check the access log's hash chain end to end.",
                      extensions=guarded(Role.OFFICER, Role.ADMIN))
    def verify_access_log(self, info: Info) -> AccessLogVerification:
        result = access_log.verify(info.context.uow.session)
        return AccessLogVerification(ok=result.ok, checked=result.checked,
                                     first_broken_sequence=result.first_broken_sequence,
                                     problem=result.problem)

    @strawberry.field(description="A member's consent records (proof of consent).",
                      extensions=guarded(Role.OFFICER))
    def consent_history(self, info: Info, member_id: strawberry.ID) -> list[ConsentRecordView]:
        records = ledger.history(info.context.uow.session, _member_id(member_id))
        return [ConsentRecordView.of(r) for r in records]

    @strawberry.field(description="A signed receipt for any consent record.",
                      extensions=guarded(Role.OFFICER))
    def consent_receipt(self, info: Info, receipt_id: strawberry.ID) -> ConsentReceipt | None:
        try:
            parsed = uuid.UUID(str(receipt_id))
        except ValueError:
            return None
        record = ledger.find_record(info.context.uow.session, parsed)
        return None if record is None else receipt_of(info, record)


@strawberry.type
class OfficerMutation:
    @strawberry.mutation(description="Restrict (or lift restriction of) processing on a "
                         "member's behalf (Art. 18); the reason goes to the audit trail.",
                         extensions=guarded(Role.OFFICER))
    def set_processing_restriction(self, info: Info, member_id: strawberry.ID, restricted: bool,
                                   reason: str) -> ProcessingPayload:
        ctx = info.context
        target = _member_id(member_id)
        return processing_payload(lambda: service.set_restriction_for(
            ctx.uow, ctx.services.policy, target, restricted=restricted, reason=reason,
            actor=ctx.principal.actor))
