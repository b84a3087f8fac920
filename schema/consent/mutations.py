"""Consent changes: the member grants, withdraws, objects and restricts; a client records
consent collected on a member's behalf (a store till, the app back end); an officer
restricts processing for a member."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from consent import service
from consent.evidence import Evidence
from schema.access import Role, guarded
from schema.consent.types import (
    ConsentPayload,
    MemberConsentInput,
    ProcessingPayload,
    consent_payload,
    consent_refused,
    processing_payload,
)
from schema.identity.types import parse_member_id
from vaultkernel.errors import DomainError


def evidence(info: Info) -> Evidence:
    request = info.context.request
    headers: Any = request.headers if request is not None else {}
    client = request.client.host if request is not None and request.client else None
    return Evidence.from_request(client, headers.get("user-agent"),
                                 headers.get("sec-gpc") == "1",
                                 info.context.services.keyring.derive("evidence-ip"))


def _change_consent(info: Info, purpose: str, granted: bool, notice_version: int | None,
                    notice_language: str | None) -> ConsentPayload:
    ctx = info.context
    try:
        return consent_payload(service.change_consent(
            ctx.uow, ctx.services.policy, ctx.services.crypto, ctx.principal.member_id, purpose,
            granted=granted,
            notice_version=notice_version, channel="web", actor=ctx.principal.actor,
            evidence=evidence(info), language=notice_language))
    except DomainError as exc:
        return consent_refused(exc)


@strawberry.type
class ConsentMutation:
    @strawberry.mutation(description="Consent to a purpose, to the notice version you were "
                         "shown, in the language you read it in (`noticeLanguage`, one of "
                         "/policy.json's `languages`; the policy's own when not given). The "
                         "receipt keeps that language and the hash of that text.",
                         extensions=guarded(Role.MEMBER_SELF))
    def grant_consent(self, info: Info, purpose: str, notice_version: int,
                      notice_language: str | None = None) -> ConsentPayload:
        return _change_consent(info, purpose, True, notice_version, notice_language)

    @strawberry.mutation(description="Withdraw consent: one call, like granting it.",
                         extensions=guarded(Role.MEMBER_SELF))
    def withdraw_consent(self, info: Info, purpose: str,
                         notice_language: str | None = None) -> ConsentPayload:
        return _change_consent(info, purpose, False, None, notice_language)

    @strawberry.mutation(description="Object to a legitimate-interest purpose (Art. 21).",
                         extensions=guarded(Role.MEMBER_SELF))
    def object_to_purpose(self, info: Info, purpose: str) -> ProcessingPayload:
        ctx = info.context
        return processing_payload(lambda: service.set_objection(
            ctx.uow, ctx.services.policy, ctx.principal.member_id, purpose, objected=True,
            actor=ctx.principal.actor))

    @strawberry.mutation(description="Withdraw an objection.", extensions=guarded(Role.MEMBER_SELF))
    def withdraw_objection(self, info: Info, purpose: str) -> ProcessingPayload:
        ctx = info.context
        return processing_payload(lambda: service.set_objection(
            ctx.uow, ctx.services.policy, ctx.principal.member_id, purpose, objected=False,
            actor=ctx.principal.actor))

    @strawberry.mutation(description="Restrict all processing of your data (Art. 18).",
                         extensions=guarded(Role.MEMBER_SELF))
    def restrict_my_processing(self, info: Info) -> ProcessingPayload:
        ctx = info.context
        return processing_payload(lambda: service.set_own_restriction(
            ctx.uow, ctx.services.policy, ctx.principal.member_id, restricted=True))

    @strawberry.mutation(description="Lift the restriction you placed.",
                         extensions=guarded(Role.MEMBER_SELF))
    def lift_my_restriction(self, info: Info) -> ProcessingPayload:
        ctx = info.context
        return processing_payload(lambda: service.set_own_restriction(
            ctx.uow, ctx.services.policy, ctx.principal.member_id, restricted=False))

    @strawberry.mutation(description="Record a member's grant or withdrawal, collected by this "
                         "client; the client and its channel (store for tills, app for the app "
                         "back end, api otherwise) are recorded as evidence.",
                         extensions=guarded(Role.CLIENT))
    def record_member_consent(self, info: Info, input: MemberConsentInput) -> ConsentPayload:
        ctx = info.context
        try:
            return consent_payload(service.record_collected_consent(
                ctx.uow, ctx.services.policy, ctx.services.crypto,
                client_id=str(ctx.principal.client_id), member_number=input.member_number,
                purpose=input.purpose, granted=input.granted,
                notice_version=input.notice_version, evidence=evidence(info),
                log=ctx.reads))
        except DomainError as exc:
            return consent_refused(exc)

    @strawberry.mutation(description="Restrict (or lift restriction of) processing on a "
                         "member's behalf (Art. 18); the reason goes to the audit trail.",
                         extensions=guarded(Role.OFFICER))
    def set_processing_restriction(self, info: Info, member_id: strawberry.ID, restricted: bool,
                                   reason: str) -> ProcessingPayload:
        ctx = info.context
        target = parse_member_id(member_id)
        return processing_payload(lambda: service.set_restriction_for(
            ctx.uow, ctx.services.policy, target, restricted=restricted, reason=reason,
            actor=ctx.principal.actor))
