"""Data subject requests: members open their own; officers open, verify, extend, deny."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from identity.errors import IdentityError
from schema.access import Role, guarded, reachable_by
from schema.enums import RequestState
from schema.errors import ErrorCode, FieldError, field_errors
from schema.types import UpdateProfileInput, input_values
from subject_requests import access, lifecycle, opening
from subject_requests.errors import RequestError
from subject_requests.lifecycle import Snapshot
from vaultkernel.clock import utcnow
from vaultkernel.errors import DomainError

MAX_LIST = 500


@strawberry.enum
class RequestType(Enum):
    ACCESS = "access"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"


@strawberry.input(description="A request under GDPR Art. 15-21 (or the CCPA equivalents).")
class OpenRequestInput:
    type: RequestType
    jurisdiction: str = strawberry.field(default="GDPR", description="GDPR or CCPA")
    purpose: str | None = strawberry.field(default=None,
                                           description="For objection: the purpose.")
    corrections: UpdateProfileInput | None = strawberry.field(
        default=None, description="For rectification: the corrected values.")


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class RequestTransitionView:
    from_state: RequestState | None
    to_state: RequestState
    at: dt.datetime
    actor: str
    reason: str | None


@strawberry.type(description="Where to download an export (needs your sign-in too).",
                 directives=reachable_by(Role.MEMBER_SELF))
class ExportDownload:
    url: str
    expires_at: dt.datetime


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class DataSubjectRequestView:
    id: strawberry.ID
    member_id: strawberry.ID
    type: RequestType
    jurisdiction: str
    state: RequestState
    received_at: dt.datetime
    due_at: dt.datetime = strawberry.field(
        description="The legal deadline; while identity is being verified the clock stops.")
    overdue: bool
    extended: bool
    extension_reason: str | None
    identity_verification: str | None
    closed_at: dt.datetime | None
    denial_code: str | None
    denial_reason: str | None
    transitions: list[RequestTransitionView]
    export_download: ExportDownload | None = None


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class RequestPayload:
    request: DataSubjectRequestView | None
    errors: list[FieldError]


def view(found: Snapshot) -> DataSubjectRequestView:
    request, download = found.request, found.download
    return DataSubjectRequestView(
        id=strawberry.ID(str(request.id)), member_id=strawberry.ID(str(request.member_id)),
        type=RequestType(request.type), jurisdiction=request.jurisdiction,
        state=RequestState(request.state),
        received_at=request.received_at, due_at=found.due_at, overdue=found.overdue,
        extended=request.extended, extension_reason=request.extension_reason,
        identity_verification=request.identity_verification, closed_at=request.closed_at,
        denial_code=request.denial_code, denial_reason=request.denial_reason,
        transitions=[RequestTransitionView(from_state=RequestState(t.from_state)
                                           if t.from_state else None,
                                           to_state=RequestState(t.to_state),
                                           at=t.at, actor=t.actor, reason=t.reason)
                     for t in found.transitions],
        export_download=None if download is None else ExportDownload(
            url=download.url, expires_at=download.expires_at))


def _errors(exc: DomainError) -> list[FieldError]:
    return field_errors(exc)


def _open(info: Info, member_id: uuid.UUID, input: OpenRequestInput,
          identity_verification: str | None) -> RequestPayload:
    ctx = info.context
    corrections: Any = input_values(input.corrections) if input.corrections else None
    try:
        opened = opening.open_request(ctx.uow, ctx.services.request_workflow, member_id,
                                      input.type.value, jurisdiction=input.jurisdiction,
                                      actor=ctx.principal.actor,
                                      identity_verification=identity_verification,
                                      purpose=input.purpose, corrections=corrections,
                                      now=utcnow())
    except (RequestError, IdentityError) as exc:
        ctx.uow.rollback()
        return RequestPayload(request=None, errors=_errors(exc))
    return RequestPayload(request=view(opened), errors=[])


def _request_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError("NOT_FOUND", "no such request") from None


def _officer_change(info: Info, change: Callable[[], Snapshot]) -> RequestPayload:
    try:
        changed = change()
    except RequestError as exc:
        info.context.uow.rollback()
        return RequestPayload(request=None, errors=_errors(exc))
    return RequestPayload(request=view(changed), errors=[])


@strawberry.type
class RequestQuery:
    @strawberry.field(description="Your requests, newest first, with export downloads.",
                      extensions=guarded(Role.MEMBER_SELF))
    def my_requests(self, info: Info) -> list[DataSubjectRequestView]:
        ctx = info.context
        return [view(r) for r in access.member_requests(
            ctx.uow, ctx.services.exports, ctx.principal.member_id, now=utcnow())]

    @strawberry.field(description="Requests by state, overdue, or due within N days; "
                      "soonest due first.", extensions=guarded(Role.OFFICER))
    def requests(self, info: Info, state: RequestState | None = None, overdue: bool = False,
                 due_within_days: int | None = None,
                 member_id: strawberry.ID | None = None) -> list[DataSubjectRequestView]:
        if due_within_days is not None and not 0 <= due_within_days <= 365:
            raise DomainError("INVALID_RANGE", "dueWithinDays must be between 0 and 365")
        return [view(r) for r in lifecycle.find_requests(
            info.context.uow, states=[state.value] if state else [], overdue=overdue,
            due_within=dt.timedelta(days=due_within_days) if due_within_days is not None
            else None, member_id=_request_id(member_id) if member_id else None,
            limit=MAX_LIST, now=utcnow())]


@strawberry.type
class RequestMutation:
    @strawberry.mutation(description="Open a request about your own data; your sign-in "
                         "verified your identity.", extensions=guarded(Role.MEMBER_SELF))
    def open_my_request(self, info: Info, input: OpenRequestInput) -> RequestPayload:
        return _open(info, info.context.principal.member_id, input, "signed in")

    @strawberry.mutation(description="Open a request on a member's behalf; say how identity "
                         "was verified, or leave it null to verify later (the clock stops "
                         "until then).", extensions=guarded(Role.OFFICER))
    def open_request_for(self, info: Info, member_id: strawberry.ID, input: OpenRequestInput,
                         identity_verification: str | None = None) -> RequestPayload:
        if input.corrections is not None:
            # Least privilege: an officer never writes a member's personal values (a new
            # email would hand the officer the member's sign-in); the member corrects them.
            return RequestPayload(request=None, errors=[FieldError(
                field="corrections", code=ErrorCode.CORRECTIONS_BY_MEMBER_ONLY,
                message="the member applies corrections themselves (openMyRequest or "
                        "updateMyProfile); officers track the request")])
        return _open(info, _request_id(member_id), input, identity_verification)

    @strawberry.mutation(description="Record how the requester's identity was verified; the "
                         "clock starts again.", extensions=guarded(Role.OFFICER))
    def verify_request_identity(self, info: Info, request_id: strawberry.ID,
                                method: str) -> RequestPayload:
        ctx = info.context
        return _officer_change(info, lambda: opening.verify_request_identity(
            ctx.uow, ctx.services.request_workflow, _request_id(request_id), method,
            actor=ctx.principal.actor, now=utcnow()))

    @strawberry.mutation(description="Extend the deadline once, with the reason the member "
                         "is told.", extensions=guarded(Role.OFFICER))
    def extend_request(self, info: Info, request_id: strawberry.ID,
                       reason: str) -> RequestPayload:
        ctx = info.context
        return _officer_change(info, lambda: lifecycle.extend_request(
            ctx.uow, _request_id(request_id), reason, actor=ctx.principal.actor, now=utcnow()))

    @strawberry.mutation(description="Deny with a reason code (UNVERIFIABLE_IDENTITY, "
                         "MANIFESTLY_UNFOUNDED, EXCESSIVE, LEGAL_HOLD, LEGAL_OBLIGATION, "
                         "LEGAL_CLAIMS, DUPLICATE).", extensions=guarded(Role.OFFICER))
    def deny_request(self, info: Info, request_id: strawberry.ID, code: str,
                     reason: str) -> RequestPayload:
        ctx = info.context
        return _officer_change(info, lambda: lifecycle.deny_request(
            ctx.uow, _request_id(request_id), code, reason, actor=ctx.principal.actor,
            now=utcnow()))
