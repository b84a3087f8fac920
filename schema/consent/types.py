"""GraphQL types of consent and processing: purposes as the member sees them, consent
records and receipts, restriction and objection, and member data as a purpose permits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from consent.gate import MemberData as GatedData
from consent.models import ConsentRecord
from consent.service import ConsentChange, ProcessingState
from consent.status import PurposeStatus
from schema.access import Role, reachable_by
from schema.errors import FieldError, field_errors
from schema.identity.types import PostalAddress
from schema.names import GRAPHQL_NAME
from vaultkernel.errors import DomainError


@strawberry.enum(description="The legal basis of a purpose (GDPR Art. 6(1)).")
class LegalBasis(Enum):
    CONSENT = "consent"
    CONTRACT = "contract"
    LEGITIMATE_INTEREST = "legitimate_interest"
    LEGAL_OBLIGATION = "legal_obligation"


@strawberry.enum(description="How a consent was collected.")
class ConsentChannel(Enum):
    WEB = "web"
    APP = "app"
    STORE = "store"
    API = "api"
    IMPORT = "import"


@strawberry.enum
class ConsentStatus(Enum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    NOT_GIVEN = "not_given"
    STALE = "stale"
    NOT_CONSENT_BASED = "not_consent_based"


@strawberry.enum(description="Why a field, or a member, was denied to a purpose "
                 "(docs/api.md#reading-member-data).")
class DeniedReason(Enum):
    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    CONSENT_STALE = "CONSENT_STALE"
    CATEGORY_NOT_IN_PURPOSE = "CATEGORY_NOT_IN_PURPOSE"
    PROCESSING_RESTRICTED = "PROCESSING_RESTRICTED"
    OBJECTED = "OBJECTED"
    MEMBER_ERASED = "MEMBER_ERASED"
    MEMBER_NOT_FOUND = "MEMBER_NOT_FOUND"
    PURPOSE_NOT_PERMITTED = "PURPOSE_NOT_PERMITTED"


@strawberry.type(description="A field left null, and why (a stable reason code).",
                 directives=reachable_by(Role.MEMBER_SELF, Role.CLIENT, Role.OFFICER, Role.ADMIN))
class DeniedField:
    field: str
    reason: DeniedReason


@strawberry.type(description="A member's data as one purpose permits: a denied field is "
                 "null and listed in `denied` with its reason.",
                 directives=reachable_by(Role.CLIENT))
class MemberData:
    member_number: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birthdate: dt.date | None = None
    postal_address: PostalAddress | None = None
    preferred_language: str | None = None
    preferences: JSON | None = None
    denied: list[DeniedField] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, data: GatedData) -> MemberData:
        values = data.values
        if values.get("birthdate") or values.get("postal_address"):
            values = dict(values)
            if values.get("birthdate"):
                values["birthdate"] = dt.date.fromisoformat(values["birthdate"])
            if values.get("postal_address"):
                address = values["postal_address"]
                values["postal_address"] = PostalAddress(
                    lines=address["lines"], locality=address["locality"],
                    region=address.get("region"), postal_code=address.get("postal_code"),
                    country=address["country"])
        denied = data.decision.denied
        return cls(**values, denied=[DeniedField(field=GRAPHQL_NAME[f], reason=DeniedReason(r))
                                     for f, r in sorted(denied.items())] if denied else [])


@strawberry.type(directives=reachable_by(Role.CLIENT))
class MemberDataPage:
    items: list[MemberData]
    next_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last page.")


@strawberry.type(directives=reachable_by(Role.CLIENT))
class ConsentCheck:
    member_number: str
    permitted: bool
    reason: DeniedReason | None


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


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class ConsentRecordPage:
    items: list[ConsentRecordView]
    next_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last page.")


@strawberry.type(description="A consent receipt and a compact JWS over it.",
                 directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class ConsentReceipt:
    receipt: JSON
    jws: str = strawberry.field(description="Compact JWS (ES256) whose payload is the "
                                "receipt; verify it with /.well-known/jwks.json.")


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class ProcessingStatus:
    restricted: bool
    objected_purposes: list[str]


@strawberry.input
class MemberConsentInput:
    member_number: str
    purpose: str
    granted: bool
    notice_version: int | None = strawberry.field(
        default=None, description="The notice version shown to the member (required to grant).")


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
