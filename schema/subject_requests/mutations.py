"""Data subject requests: members open their own; officers open, verify, extend, deny."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.types import Info

from identity.errors import IdentityError
from schema.access import Role, guarded
from schema.errors import ErrorCode, FieldError, field_errors
from schema.identity.types import input_values
from schema.subject_requests.types import (
    DenialCode,
    OpenRequestInput,
    RequestPayload,
    parse_request_id,
    view,
)
from subject_requests import lifecycle, opening
from subject_requests.errors import RequestError
from subject_requests.lifecycle import Snapshot
from vaultkernel.errors import DomainError


def _errors(exc: DomainError) -> list[FieldError]:
    return field_errors(exc)


def _open(info: Info, member_id: uuid.UUID, input: OpenRequestInput,
          identity_verification: str | None) -> RequestPayload:
    ctx = info.context
    corrections: Any = input_values(input.corrections) if input.corrections else None
    try:
        opened = opening.open_request(ctx.uow, ctx.services.request_workflow, member_id,
                                      input.type.value, jurisdiction=input.jurisdiction.value,
                                      actor=ctx.principal.actor,
                                      identity_verification=identity_verification,
                                      purpose=input.purpose, corrections=corrections,
                                      now=ctx.services.clock.now())
    except (RequestError, IdentityError) as exc:
        ctx.uow.rollback()
        return RequestPayload(request=None, errors=_errors(exc))
    return RequestPayload(request=view(opened), errors=[])


def _officer_change(info: Info, change: Callable[[], Snapshot]) -> RequestPayload:
    try:
        changed = change()
    except RequestError as exc:
        info.context.uow.rollback()
        return RequestPayload(request=None, errors=_errors(exc))
    return RequestPayload(request=view(changed), errors=[])


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
        return _open(info, parse_request_id(member_id), input, identity_verification)

    @strawberry.mutation(description="Record how the requester's identity was verified; the "
                         "clock starts again.", extensions=guarded(Role.OFFICER))
    def verify_request_identity(self, info: Info, request_id: strawberry.ID,
                                method: str) -> RequestPayload:
        ctx = info.context
        return _officer_change(info, lambda: opening.verify_request_identity(
            ctx.uow, ctx.services.request_workflow, parse_request_id(request_id), method,
            actor=ctx.principal.actor, now=ctx.services.clock.now()))

    @strawberry.mutation(description="Extend the deadline once, within the first period, "
                         "with the reason the member is told.",
                         extensions=guarded(Role.OFFICER))
    def extend_request(self, info: Info, request_id: strawberry.ID,
                       reason: str) -> RequestPayload:
        ctx = info.context
        return _officer_change(info, lambda: lifecycle.extend_request(
            ctx.uow, ctx.services.request_workflow.deadlines, parse_request_id(request_id),
            reason, actor=ctx.principal.actor, now=ctx.services.clock.now()))

    @strawberry.mutation(description="Deny with a reason code and the reason the member is "
                         "told.", extensions=guarded(Role.OFFICER))
    def deny_request(self, info: Info, request_id: strawberry.ID, code: DenialCode,
                     reason: str) -> RequestPayload:
        ctx = info.context
        return _officer_change(info, lambda: lifecycle.deny_request(
            ctx.uow, ctx.services.request_workflow.deadlines, parse_request_id(request_id),
            code.value, reason, actor=ctx.principal.actor, now=ctx.services.clock.now()))
