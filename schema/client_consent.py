"""Consent collected on a member's behalf by a client (a store till, the app back end)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from consent import ledger
from consent.errors import ConsentError
from identity import members
from identity.clients import consent_channel
from schema.access import Role, denied, guarded
from schema.client_reads import log_reads
from schema.member_privacy import (
    GPC_CONFLICT,
    ConsentPayload,
    consents_of,
    evidence,
    field_errors,
    gpc_signal,
)
from schema.types import FieldError


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
        channel = consent_channel(ctx.uow.session, ctx.principal.client_id)
        if channel is None:
            raise denied("FORBIDDEN", "this client is not registered to collect consent")
        purpose = ctx.services.policy.purposes.get(input.purpose)
        if input.granted and purpose is not None and purpose.sale_or_sharing and gpc_signal(info):
            return ConsentPayload(consents=[], receipt_ids=[], errors=[GPC_CONFLICT])
        member_id = members.id_by_number(ctx.uow, ctx.services.crypto, input.member_number)
        if member_id is None:
            return ConsentPayload(consents=[], receipt_ids=[], errors=[FieldError(
                field="memberNumber", code="MEMBER_NOT_FOUND", message="no such member")])
        try:
            record = ledger.record_consent(
                ctx.uow.session, ctx.services.policy, member_id, input.purpose,
                granted=input.granted, notice_version=input.notice_version,
                channel=channel, actor=ctx.principal.actor, evidence=evidence(info))
        except ConsentError as exc:
            ctx.uow.rollback()
            return ConsentPayload(consents=[], receipt_ids=[], errors=field_errors(exc))
        ctx.uow.commit()
        log_reads(info, input.purpose, [(member_id, [f"consent:{input.purpose}"], {})])
        # The collecting client learns the state of this purpose only, not the others.
        changed = [c for c in consents_of(info, member_id) if c.purpose == input.purpose]
        return ConsentPayload(consents=changed,
                              receipt_ids=[strawberry.ID(str(record.receipt_id))], errors=[])
