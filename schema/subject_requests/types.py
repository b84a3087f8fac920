"""GraphQL types of data subject requests: the request, its transitions and export
download, erasure certificates and the recipients yet to acknowledge an erasure."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from schema.access import Role, reachable_by
from schema.errors import FieldError
from schema.identity.types import UpdateProfileInput
from schema.outbox.types import DeliveryState
from subject_requests.lifecycle import Snapshot
from vaultkernel.errors import DomainError


@strawberry.enum(description="Where a data subject request stands (docs/requests.md).")
class RequestState(Enum):
    RECEIVED = "received"
    IDENTITY_VERIFICATION = "identity_verification"
    IN_PROGRESS = "in_progress"
    EXTENDED = "extended"
    WAITING_FOR_RECIPIENTS = "waiting_for_recipients"
    COMPLETED = "completed"
    DENIED = "denied"
    HELD = "held"


@strawberry.enum
class RequestType(Enum):
    ACCESS = "access"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"


@strawberry.enum(description="The law a request is made under; it sets the deadline "
                 "(docs/requests.md#deadlines).")
class Jurisdiction(Enum):
    GDPR = "GDPR"
    CCPA = "CCPA"


@strawberry.enum(description="Why a request was denied (docs/requests.md).")
class DenialCode(Enum):
    UNVERIFIABLE_IDENTITY = "UNVERIFIABLE_IDENTITY"
    MANIFESTLY_UNFOUNDED = "MANIFESTLY_UNFOUNDED"
    EXCESSIVE = "EXCESSIVE"
    LEGAL_HOLD = "LEGAL_HOLD"
    LEGAL_OBLIGATION = "LEGAL_OBLIGATION"
    LEGAL_CLAIMS = "LEGAL_CLAIMS"
    DUPLICATE = "DUPLICATE"


@strawberry.input(description="A request under GDPR Art. 15-21 (or the CCPA equivalents).")
class OpenRequestInput:
    type: RequestType
    jurisdiction: Jurisdiction = Jurisdiction.GDPR
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
    jurisdiction: Jurisdiction
    state: RequestState
    received_at: dt.datetime
    due_at: dt.datetime = strawberry.field(
        description="The legal deadline; while identity is being verified the clock stops.")
    overdue: bool
    extended: bool
    extension_reason: str | None
    identity_verification: str | None
    closed_at: dt.datetime | None
    denial_code: DenialCode | None
    denial_reason: str | None
    transitions: list[RequestTransitionView]
    export_download: ExportDownload | None = None
    outcome: str | None = strawberry.field(
        default=None, description="What was done, what was not and why, as the member is "
        "told it: for an erasure held by a legal hold, what was erased, what is kept and "
        "why, and the member's remedies (GDPR Art. 12(4)).")


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class RequestPage:
    items: list[DataSubjectRequestView]
    next_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last page.")


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.OFFICER))
class RequestPayload:
    request: DataSubjectRequestView | None
    errors: list[FieldError]


@strawberry.type(description="A signed erasure certificate.", directives=reachable_by(Role.OFFICER))
class ErasureCertificate:
    certificate: JSON = strawberry.field(description="What was destroyed, what was kept and "
                                         "why, and each recipient's acknowledgement.")
    jws: str = strawberry.field(description="Compact JWS (ES256, typ erasure-certificate+jws) "
                                "whose payload is the certificate; verify it with "
                                "/.well-known/jwks.json.")


@strawberry.type(description="A recipient of an erasure event that has not acknowledged it.",
                 directives=reachable_by(Role.OFFICER))
class PendingAcknowledgement:
    client_id: str
    delivery_state: DeliveryState = strawberry.field(
        description="Dead deliveries can be replayed.")
    attempts: int
    delivered_at: dt.datetime | None


def view(found: Snapshot) -> DataSubjectRequestView:
    request, download = found.request, found.download
    return DataSubjectRequestView(
        id=strawberry.ID(str(request.id)), member_id=strawberry.ID(str(request.member_id)),
        type=RequestType(request.type), jurisdiction=Jurisdiction(request.jurisdiction),
        state=RequestState(request.state),
        received_at=request.received_at, due_at=found.due_at, overdue=found.overdue,
        extended=request.extended, extension_reason=request.extension_reason,
        identity_verification=request.identity_verification, closed_at=request.closed_at,
        denial_code=None if request.denial_code is None
        else DenialCode(request.denial_code), denial_reason=request.denial_reason,
        transitions=[RequestTransitionView(from_state=RequestState(t.from_state)
                                           if t.from_state else None,
                                           to_state=RequestState(t.to_state),
                                           at=t.at, actor=t.actor, reason=t.reason)
                     for t in found.transitions],
        export_download=None if download is None else ExportDownload(
            url=download.url, expires_at=download.expires_at),
        outcome=outcome if isinstance(outcome := (request.details or {}).get("outcome"), str)
        else None)


def parse_request_id(value: str) -> uuid.UUID:
    """An internal id given as an ``ID`` argument; a malformed one names no request."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError("NOT_FOUND", "no such request") from None
