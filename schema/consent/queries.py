"""Consent reads: the member's consents, history, receipts and processing status; officers'
proof of consent; and clients' purpose-bound reads of member data (design rule 1),
each logged by the gated read itself before it answers."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from consent import gate, ledger, receipts
from consent.models import ConsentRecord
from consent.service import consents_of, processing_state
from schema import paging
from schema.access import Role, guarded
from schema.consent.types import (
    ConsentCheck,
    ConsentReceipt,
    ConsentRecordPage,
    ConsentRecordView,
    DeniedReason,
    MemberData,
    MemberDataPage,
    ProcessingStatus,
    PurposeConsent,
    processing_status,
    purpose_consents,
)
from schema.identity.types import parse_member_id
from schema.selection import requested_attributes
from vaultkernel.errors import DomainError


def _purpose(info: Info, key: str) -> Any:
    return info.context.services.policy.purposes[key]


def receipt_of(info: Info, record: ConsentRecord) -> ConsentReceipt:
    services = info.context.services
    document = receipts.receipt_for(info.context.uow.session, record, services.policy,
                                    issuer=services.settings.issuer)
    return ConsentReceipt(receipt=JSON(document),
                          jws=receipts.sign(document, services.signing_keys.active()))


def _record(info: Info, receipt_id: str) -> ConsentRecord | None:
    try:
        parsed = uuid.UUID(str(receipt_id))
    except ValueError:
        return None
    return ledger.find_record(info.context.uow.session, parsed)


@strawberry.type
class MemberConsentQuery:
    @strawberry.field(description="Every purpose with its notice and your consent status.",
                      extensions=guarded(Role.MEMBER_SELF))
    def my_consents(self, info: Info) -> list[PurposeConsent]:
        ctx = info.context
        return purpose_consents(consents_of(ctx.uow, ctx.services.policy,
                                            ctx.principal.member_id))

    @strawberry.field(description="Every consent change you or others made for you, "
                      "oldest first, a page at a time.", extensions=guarded(Role.MEMBER_SELF))
    def my_consent_history(self, info: Info, first: int = paging.DEFAULT_PAGE,
                           after: str | None = None) -> ConsentRecordPage:
        ctx = info.context
        records = ledger.history(ctx.uow.session, ctx.principal.member_id)
        return _record_page(info, records, "myConsentHistory", first, after, "")

    @strawberry.field(description="A signed receipt for one of your consent records.",
                      extensions=guarded(Role.MEMBER_SELF))
    def my_consent_receipt(self, info: Info, receipt_id: strawberry.ID) -> ConsentReceipt | None:
        record = _record(info, receipt_id)
        if record is None or record.member_id != info.context.principal.member_id:
            return None
        return receipt_of(info, record)


@strawberry.type
class ProcessingStatusQuery:
    @strawberry.field(description="Whether processing of your data is restricted, and which "
                      "purposes you objected to.", extensions=guarded(Role.MEMBER_SELF))
    def my_processing_status(self, info: Info) -> ProcessingStatus:
        return processing_status(processing_state(info.context.uow,
                                                  info.context.principal.member_id))


@strawberry.type
class MemberDataQuery:
    @strawberry.field(
        description="One member's data for a declared purpose, found by exactly one of "
        "memberNumber, email or phone. An unknown member is answered like one who has not "
        "consented, so the answer never reveals who is a member.",
        extensions=guarded(Role.CLIENT, purpose_argument="purpose"))
    def member_data(self, info: Info, purpose: str, member_number: str | None = None,
                    email: str | None = None, phone: str | None = None) -> MemberData:
        keys = [(k, v) for k, v in (("member_number", member_number), ("email", email),
                                    ("phone", phone)) if v is not None]
        if len(keys) != 1:
            raise DomainError("ONE_KEY_REQUIRED",
                              "give exactly one of memberNumber, email or phone")
        ctx = info.context
        kind = keys[0][0]
        # Looking a member up by email or phone uses that value: only a purpose that covers
        # it may (the member number is the public handle every client may use).
        if kind != "member_number" and kind not in ctx.services.policy.attributes_of(purpose):
            raise DomainError("LOOKUP_KEY_NOT_IN_PURPOSE",
                         f"purpose {purpose} does not cover {kind}; look up by memberNumber")
        requested = requested_attributes(info)
        data = gate.read_one(ctx.uow.session, ctx.services.crypto, ctx.services.policy,
                             _purpose(info, purpose), requested, kind=kind, key=keys[0][1],
                             default_region=ctx.services.settings.default_region,
                             log=ctx.reads)
        return MemberData.of(data)

    @strawberry.field(
        description="Every member for whom the purpose is permitted now, a page at a time "
        "(at most 1000), with the fields the purpose covers.",
        extensions=guarded(Role.CLIENT, purpose_argument="purpose"))
    def audience(self, info: Info, purpose: str, first: int = 100,
                 after: str | None = None) -> MemberDataPage:
        ctx = info.context
        if not 1 <= first <= gate.MAX_PAGE:
            raise DomainError("INVALID_PAGE_SIZE", f"first must be between 1 and {gate.MAX_PAGE}")
        bound = f"audience:{ctx.principal.client_id}:{purpose}"
        position = ctx.services.cursors.decode_id(after, bound_to=bound) if after else None
        requested = requested_attributes(info, ("items",))
        page = gate.read_page(ctx.uow.session, ctx.services.crypto, ctx.services.policy,
                              _purpose(info, purpose), requested, first=first, after=position,
                              log=ctx.reads)
        last = page[-1].member_id if len(page) == first else None
        return MemberDataPage(
            items=[MemberData.of(d) for d in page],
            next_cursor=ctx.services.cursors.encode_id(last, bound_to=bound) if last else None)

    @strawberry.field(
        description="Whether the purpose is permitted now, for up to 10,000 member numbers.",
        extensions=guarded(Role.CLIENT, purpose_argument="purpose"))
    def consent_check(self, info: Info, purpose: str,
                      member_numbers: list[str]) -> list[ConsentCheck]:
        ctx = info.context
        if len(member_numbers) > gate.MAX_CONSENT_CHECK:
            raise DomainError("TOO_MANY",
                              f"at most {gate.MAX_CONSENT_CHECK} member numbers per call")
        answers = gate.check_many(ctx.uow.session, ctx.services.crypto, _purpose(info, purpose),
                                  member_numbers, log=ctx.reads)
        coded: dict[str | None, DeniedReason | None] = {None: None}
        for _, reason in answers:
            if reason not in coded:
                coded[reason] = DeniedReason(reason)
        return [ConsentCheck(member_number=number, permitted=reason is None,
                             reason=coded[reason]) for number, reason in answers]


@strawberry.type
class ConsentProofQuery:
    @strawberry.field(description="A member's consent records (proof of consent), oldest "
                      "first, a page at a time.", extensions=guarded(Role.OFFICER))
    def consent_history(self, info: Info, member_id: strawberry.ID,
                        first: int = paging.DEFAULT_PAGE,
                        after: str | None = None) -> ConsentRecordPage:
        member = parse_member_id(member_id)
        records = ledger.history(info.context.uow.session, member)
        return _record_page(info, records, "consentHistory", first, after, member.hex)

    @strawberry.field(description="A signed receipt for any consent record.",
                      extensions=guarded(Role.OFFICER))
    def consent_receipt(self, info: Info, receipt_id: strawberry.ID) -> ConsentReceipt | None:
        try:
            parsed = uuid.UUID(str(receipt_id))
        except ValueError:
            return None
        record = ledger.find_record(info.context.uow.session, parsed)
        return None if record is None else receipt_of(info, record)


def _record_page(info: Info, records: list[ConsentRecord], field: str, first: int,
                 after: str | None, filters: str) -> ConsentRecordPage:
    ctx = info.context
    page, following = paging.in_memory(ctx.services.cursors, records, field=field,
                                       caller=ctx.principal.actor, first=first, after=after,
                                       filters=filters)
    return ConsentRecordPage(items=[ConsentRecordView.of(r) for r in page],
                             next_cursor=following)
