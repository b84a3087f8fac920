"""Privacy-centre types and the member's own privacy fields: consents, history,
receipts, restriction and objection, and who read their data."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from audit.access_log import LogFilter, page
from consent import ledger, receipts, service
from consent.ledger import Evidence
from consent.models import ConsentRecord
from consent.service import ConsentChange, ProcessingState, consents_of, processing_state
from consent.status import PurposeStatus
from schema.access import Role, guarded, reachable_by
from schema.client_reads import DeniedField
from schema.enums import ConsentChannel, LegalBasis
from schema.errors import FieldError, field_errors
from vaultkernel.errors import DomainError

MAX_LOG_PAGE = 200


@strawberry.enum
class ConsentStatus(Enum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    NOT_GIVEN = "not_given"
    STALE = "stale"
    NOT_CONSENT_BASED = "not_consent_based"


@strawberry.type(description="One purpose as the member sees it, with its notice.",
                 directives=reachable_by(Role.MEMBER_SELF, Role.CLIENT, Role.OFFICER))
class PurposeConsent:
    purpose: str
    title: str
    notice: str
    notice_version: int
    legal_basis: LegalBasis
    status: ConsentStatus
    granted_notice_version: int | None
    objected: bool
    updated_at: dt.datetime | None


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class ConsentRecordView:
    receipt_id: strawberry.ID
    purpose: str
    granted: bool
    notice_version: int
    at: dt.datetime
    channel: ConsentChannel
    actor: str
    gpc: bool

    @classmethod
    def of(cls, record: ConsentRecord) -> ConsentRecordView:
        return cls(receipt_id=strawberry.ID(str(record.receipt_id)), purpose=record.purpose,
                   granted=record.granted, notice_version=record.notice_version, at=record.at,
                   channel=ConsentChannel(record.channel), actor=record.actor,
                   gpc=bool((record.evidence or {}).get("gpc")))


@strawberry.type(description="A consent receipt and a compact JWS over it.",
                 directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class ConsentReceipt:
    receipt: JSON
    jws: str = strawberry.field(description="Compact JWS (ES256) whose payload is the "
                                "receipt; verify it with /.well-known/jwks.json.")


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


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class ProcessingStatus:
    restricted: bool
    objected_purposes: list[str]


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.CLIENT))
class ConsentPayload:
    consents: list[PurposeConsent]
    receipt_ids: list[strawberry.ID]
    errors: list[FieldError]


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class ProcessingPayload:
    status: ProcessingStatus | None
    errors: list[FieldError]


def purpose_consents(statuses: list[PurposeStatus]) -> list[PurposeConsent]:
    return [PurposeConsent(
        purpose=s.purpose.key, title=s.purpose.title, notice=s.purpose.notice,
        notice_version=s.purpose.notice_version, legal_basis=LegalBasis(s.purpose.legal_basis),
        status=ConsentStatus(s.status), granted_notice_version=s.granted_notice_version,
        objected=s.objected, updated_at=s.updated_at)
        for s in statuses]


def processing_status(state: ProcessingState) -> ProcessingStatus:
    return ProcessingStatus(restricted=state.restricted,
                            objected_purposes=state.objected_purposes)


def consent_payload(change: ConsentChange) -> ConsentPayload:
    return ConsentPayload(consents=purpose_consents(change.consents),
                          receipt_ids=[strawberry.ID(str(change.record.receipt_id))], errors=[])


def consent_refused(exc: DomainError) -> ConsentPayload:
    return ConsentPayload(consents=[], receipt_ids=[], errors=field_errors(exc))


def processing_payload(change: Callable[[], ProcessingState]) -> ProcessingPayload:
    try:
        return ProcessingPayload(status=processing_status(change()), errors=[])
    except DomainError as exc:
        return ProcessingPayload(status=None, errors=field_errors(exc))


def log_page(info: Info, flt: LogFilter, first: int, after: str | None) -> AccessLogPage:
    ctx = info.context
    if not 1 <= first <= MAX_LOG_PAGE:
        raise DomainError("INVALID_PAGE_SIZE", f"first must be between 1 and {MAX_LOG_PAGE}")
    bound = f"access-log:{ctx.principal.actor}"
    position = ctx.services.cursors.decode_int(after, bound_to=bound) if after else None
    entries = page(ctx.uow.session, flt, first, position)
    items = [AccessLogItem(
        sequence=e.sequence, at=e.at, principal=e.principal, purpose=e.purpose,
        member_id=strawberry.ID(str(e.member_id)), fields_returned=list(e.fields_returned),
        fields_denied=[DeniedField(field=f, reason=r) for f, r in e.fields_denied.items()])
        for e in entries]
    cursor = (ctx.services.cursors.encode_int(entries[-1].sequence, bound_to=bound)
              if len(entries) == first else None)
    return AccessLogPage(items=items, next_cursor=cursor)


def receipt_of(info: Info, record: ConsentRecord) -> ConsentReceipt:
    services = info.context.services
    document = receipts.receipt(record, services.policy, issuer=services.settings.issuer)
    return ConsentReceipt(receipt=JSON(document),
                          jws=receipts.sign(document, services.signing_keys.active()))


def evidence(info: Info) -> Evidence:
    request = info.context.request
    headers: Any = request.headers if request is not None else {}
    client = request.client.host if request is not None and request.client else None
    return Evidence.from_request(client, headers.get("user-agent"),
                                 headers.get("sec-gpc") == "1",
                                 info.context.services.keyring.derive("evidence-ip"))


@strawberry.type
class MemberPrivacyQuery:
    @strawberry.field(description="Every purpose with its notice and your consent status.",
                      extensions=guarded(Role.MEMBER_SELF))
    def my_consents(self, info: Info) -> list[PurposeConsent]:
        ctx = info.context
        return purpose_consents(consents_of(ctx.uow, ctx.services.policy,
                                            ctx.principal.member_id))

    @strawberry.field(description="Every consent change you or others made for you.",
                      extensions=guarded(Role.MEMBER_SELF))
    def my_consent_history(self, info: Info) -> list[ConsentRecordView]:
        session = info.context.uow.session
        return [ConsentRecordView.of(r)
                for r in ledger.history(session, info.context.principal.member_id)]

    @strawberry.field(description="A signed receipt for one of your consent records.",
                      extensions=guarded(Role.MEMBER_SELF))
    def my_consent_receipt(self, info: Info, receipt_id: strawberry.ID) -> ConsentReceipt | None:
        record = _record(info, receipt_id)
        if record is None or record.member_id != info.context.principal.member_id:
            return None
        return receipt_of(info, record)

    @strawberry.field(description="Who read your data, for which purpose, and when; newest "
                      "first.", extensions=guarded(Role.MEMBER_SELF))
    def my_access_log(self, info: Info, first: int = 50,
                      after: str | None = None) -> AccessLogPage:
        return log_page(info, LogFilter(member_id=info.context.principal.member_id), first, after)

    @strawberry.field(description="Whether processing of your data is restricted, and which "
                      "purposes you objected to.", extensions=guarded(Role.MEMBER_SELF))
    def my_processing_status(self, info: Info) -> ProcessingStatus:
        return processing_status(processing_state(info.context.uow,
                                                  info.context.principal.member_id))


def _record(info: Info, receipt_id: str) -> ConsentRecord | None:
    try:
        parsed = uuid.UUID(str(receipt_id))
    except ValueError:
        return None
    return ledger.find_record(info.context.uow.session, parsed)


def _change_consent(info: Info, purpose: str, granted: bool,
                    notice_version: int | None) -> ConsentPayload:
    ctx = info.context
    try:
        return consent_payload(service.change_consent(
            ctx.uow, ctx.services.policy, ctx.principal.member_id, purpose, granted=granted,
            notice_version=notice_version, channel="web", actor=ctx.principal.actor,
            evidence=evidence(info)))
    except DomainError as exc:
        return consent_refused(exc)


@strawberry.type
class MemberPrivacyMutation:
    @strawberry.mutation(description="Consent to a purpose, to the notice version you were "
                         "shown.", extensions=guarded(Role.MEMBER_SELF))
    def grant_consent(self, info: Info, purpose: str, notice_version: int) -> ConsentPayload:
        return _change_consent(info, purpose, True, notice_version)

    @strawberry.mutation(description="Withdraw consent: one call, like granting it.",
                         extensions=guarded(Role.MEMBER_SELF))
    def withdraw_consent(self, info: Info, purpose: str) -> ConsentPayload:
        return _change_consent(info, purpose, False, None)

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
