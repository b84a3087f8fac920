"""Officers: legal holds, erasure certificates, and who has not acknowledged an erasure."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from retention import holds, service
from retention.models import LegalHold
from schema.access import Role, guarded, reachable_by
from schema.enums import DeliveryState
from schema.errors import FieldError, field_errors
from subject_requests import erasure
from vaultkernel.clock import utcnow
from vaultkernel.errors import DomainError


@strawberry.type(description="A legal hold: while active, the member is skipped by erasure "
                 "and by every retention rule.", directives=reachable_by(Role.OFFICER))
class LegalHoldView:
    id: strawberry.ID
    member_id: strawberry.ID
    reason: str
    placed_by: str
    placed_at: dt.datetime
    expires_at: dt.datetime | None
    lifted_at: dt.datetime | None
    lifted_by: str | None
    active: bool

    @classmethod
    def of(cls, hold: LegalHold, now: dt.datetime) -> LegalHoldView:
        return cls(id=strawberry.ID(str(hold.id)), member_id=strawberry.ID(str(hold.member_id)),
                   reason=hold.reason, placed_by=hold.placed_by, placed_at=hold.placed_at,
                   expires_at=hold.expires_at, lifted_at=hold.lifted_at,
                   lifted_by=hold.lifted_by, active=holds.is_active(hold, now))


@strawberry.type(directives=reachable_by(Role.OFFICER))
class LegalHoldPayload:
    hold: LegalHoldView | None
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


def _uuid(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        code = "INVALID_MEMBER_ID" if name == "memberId" else "INVALID_HOLD_ID"
        raise DomainError(code, f"{name} must be an internal id") from None


def _instant(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.utcoffset() is None:
        raise DomainError("INVALID_DATETIME", "expiresAt needs a time zone offset (e.g. Z)")
    return value


@strawberry.type
class ErasureQuery:
    @strawberry.field(description="A member's legal holds, active or not, newest first.",
                      extensions=guarded(Role.OFFICER))
    def legal_holds(self, info: Info, member_id: strawberry.ID) -> list[LegalHoldView]:
        now = utcnow()
        return [LegalHoldView.of(h, now)
                for h in holds.holds_of(info.context.uow.session, _uuid(member_id, "memberId"))]

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
                signing_key=ctx.services.signing_keys.active, now=utcnow())
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


@strawberry.type
class ErasureMutation:
    @strawberry.mutation(description="Place a legal hold on a member (erasure and retention "
                         "skip them while it is active). The reason is told to the member "
                         "if an erasure is denied because of it: no personal data in it.",
                         extensions=guarded(Role.OFFICER))
    def place_legal_hold(self, info: Info, member_id: strawberry.ID, reason: str,
                         expires_at: dt.datetime | None = None) -> LegalHoldPayload:
        ctx = info.context
        now = utcnow()
        target, expiry = _uuid(member_id, "memberId"), _instant(expires_at)
        try:
            hold = service.place_legal_hold(ctx.uow, target, reason, actor=ctx.principal.actor,
                                            expires_at=expiry, now=now)
        except DomainError as exc:
            return LegalHoldPayload(hold=None, errors=field_errors(exc))
        return LegalHoldPayload(hold=LegalHoldView.of(hold, now), errors=[])

    @strawberry.mutation(description="Lift a legal hold (lifting one already lifted changes "
                         "nothing).", extensions=guarded(Role.OFFICER))
    def lift_legal_hold(self, info: Info, hold_id: strawberry.ID) -> LegalHoldPayload:
        ctx = info.context
        now = utcnow()
        target = _uuid(hold_id, "holdId")
        try:
            hold = service.lift_legal_hold(ctx.uow, target, actor=ctx.principal.actor, now=now)
        except DomainError as exc:
            return LegalHoldPayload(hold=None, errors=field_errors(exc))
        return LegalHoldPayload(hold=LegalHoldView.of(hold, now), errors=[])
