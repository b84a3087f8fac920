"""Consent collected on a member's behalf by a client (a store till, the app back end)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from consent import service
from schema.access import Role, guarded
from schema.member_privacy import ConsentPayload, consent_payload, consent_refused, evidence
from vaultkernel.errors import DomainError


@strawberry.input
class MemberConsentInput:
    member_number: str
    purpose: str
    granted: bool
    notice_version: int | None = strawberry.field(
        default=None, description="The notice version shown to the member (required to grant).")


@strawberry.type
class ClientConsentMutation:
    @strawberry.mutation(description="Record a member's grant or withdrawal, collected by this "
                         "client; the client and its channel (store for tills, app for the app "
                         "back end, api otherwise) are recorded as evidence.",
                         extensions=guarded(Role.CLIENT))
    def record_member_consent(self, info: Info, input: MemberConsentInput) -> ConsentPayload:
        ctx = info.context
        try:
            return consent_payload(service.record_collected_consent(
                ctx.uow, ctx.services.db, ctx.services.policy, ctx.services.crypto,
                client_id=str(ctx.principal.client_id), actor=ctx.principal.actor,
                member_number=input.member_number, purpose=input.purpose,
                granted=input.granted, notice_version=input.notice_version,
                evidence=evidence(info), request_id=ctx.request_id))
        except DomainError as exc:
            return consent_refused(exc)
