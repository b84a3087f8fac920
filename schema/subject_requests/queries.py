"""Reads of data subject requests: the member's own with their downloads; officers'
listings, erasure certificates and the recipients yet to acknowledge an erasure."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from schema import paging
from schema.access import Role, guarded
from schema.outbox.types import DeliveryState
from schema.subject_requests.types import (
    ErasureCertificate,
    PendingAcknowledgement,
    RequestPage,
    RequestState,
    parse_request_id,
    view,
)
from subject_requests import access, erasure, lifecycle
from vaultkernel.errors import DomainError


@strawberry.type
class RequestQuery:
    @strawberry.field(description="Your requests, newest first, with export downloads, a "
                      "page at a time.", extensions=guarded(Role.MEMBER_SELF))
    def my_requests(self, info: Info, first: int = paging.DEFAULT_PAGE,
                    after: str | None = None) -> RequestPage:
        ctx = info.context
        mine = access.member_requests(
            ctx.uow, ctx.services.exports, ctx.services.request_workflow.deadlines,
            ctx.principal.member_id, now=ctx.services.clock.now())
        page, following = paging.in_memory(ctx.services.cursors, mine, field="myRequests",
                                           caller=ctx.principal.actor, first=first,
                                           after=after)
        return RequestPage(items=[view(r) for r in page], next_cursor=following)

    @strawberry.field(description="Requests by state, overdue, or due within N days; "
                      "soonest due first, a page at a time.", extensions=guarded(Role.OFFICER))
    def requests(self, info: Info, state: RequestState | None = None, overdue: bool = False,
                 due_within_days: int | None = None, member_id: strawberry.ID | None = None,
                 first: int = paging.DEFAULT_PAGE, after: str | None = None) -> RequestPage:
        ctx = info.context
        if due_within_days is not None and not 0 <= due_within_days <= 365:
            raise DomainError("INVALID_RANGE", "dueWithinDays must be between 0 and 365")
        member = parse_request_id(member_id) if member_id else None
        filters = f"{state.value if state else ''}:{overdue}:{due_within_days}:{member}"
        cut = paging.window(ctx.services.cursors, field="requests", caller=ctx.principal.actor,
                            first=first, after=after, filters=filters)
        found = lifecycle.find_requests(
            ctx.uow, ctx.services.request_workflow.deadlines,
            states=[state.value] if state else [], overdue=overdue,
            due_within=dt.timedelta(days=due_within_days) if due_within_days is not None
            else None, member_id=member, offset=cut.offset, limit=first + 1,
            now=ctx.services.clock.now())
        page, following = cut.cut(found, ctx.services.cursors)
        return RequestPage(items=[view(r) for r in page], next_cursor=following)


@strawberry.type
class ErasureQuery:
    @strawberry.field(description="The signed certificate of an erasure request (once the "
                      "member is erased); null for an unknown request.",
                      extensions=guarded(Role.OFFICER))
    def erasure_certificate(self, info: Info,
                            request_id: strawberry.ID) -> ErasureCertificate | None:
        ctx = info.context
        try:
            parsed = uuid.UUID(str(request_id))
        except ValueError:
            return None
        try:
            document, signed = erasure.erasure_certificate(
                ctx.uow, ctx.services.policy, parsed, issuer=ctx.services.settings.issuer,
                signing_key=ctx.services.signing_keys.active, now=ctx.services.clock.now())
        except erasure.CertificateError as exc:
            if exc.code == "NOT_FOUND":
                return None
            raise
        return ErasureCertificate(certificate=JSON(document), jws=signed)

    @strawberry.field(description="The recipients that have not yet acknowledged the "
                      "erasure of this request (empty once all have).",
                      extensions=guarded(Role.OFFICER))
    def pending_acknowledgements(self, info: Info,
                                 request_id: strawberry.ID) -> list[PendingAcknowledgement]:
        try:
            parsed = uuid.UUID(str(request_id))
        except ValueError:
            return []
        return [PendingAcknowledgement(client_id=d.client_id,
                                       delivery_state=DeliveryState(d.state),
                                       attempts=d.attempts, delivered_at=d.delivered_at)
                for d in erasure.awaiting_acknowledgement(info.context.uow, parsed)]
