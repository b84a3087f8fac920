"""Query root: three-line resolvers that call identity services."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from audit import trail
from identity import members
from identity.errors import IdentityError, MemberNotFound
from schema.access import Role, denied, guarded
from schema.client_reads import log_reads
from schema.selection import requested_attributes
from schema.types import MemberProfile

# How admin look-ups are named in the access log (not a policy purpose).
ADMINISTRATION = "administration"


@strawberry.type(description="Read operations.")
class Query:
    @strawberry.field(description="The signed-in member's own profile.",
                      extensions=guarded(Role.MEMBER_SELF))
    def me(self, info: Info) -> MemberProfile:
        ctx = info.context
        try:
            profile = members.get_member(ctx.uow, ctx.services.crypto, ctx.principal.member_id)
        except MemberNotFound as exc:  # erased, or a token for a member that never was
            raise denied("MEMBER_ERASED" if exc.code == "MEMBER_ERASED" else "MEMBER_NOT_FOUND",
                         "there is no member profile for this sign-in") from None
        return MemberProfile.of(profile)

    @strawberry.field(description="Look one member up by exactly one key (admins, with a "
                      "reason that goes to the audit trail; the read is in the access log).",
                      extensions=guarded(Role.ADMIN))
    def member(self, info: Info, reason: str, member_number: str | None = None,
               email: str | None = None, phone: str | None = None) -> MemberProfile | None:
        ctx = info.context
        if not 10 <= len(reason.strip()) <= 500:
            raise denied("REASON_REQUIRED", "say why you look this member up (10-500 characters)")
        try:
            profile = members.find_member(
                ctx.uow, ctx.services.crypto, default_region=ctx.services.settings.default_region,
                email=email, phone=phone, number=member_number)
        except IdentityError as exc:
            raise denied(exc.code, exc.message) from None
        if profile is None:
            return None
        trail.record(ctx.uow.session, ctx.principal.actor, "member.looked_up", profile.id,
                     reason=reason.strip())
        ctx.uow.commit()
        log_reads(info, ADMINISTRATION, [(profile.id, requested_attributes(info), {})])
        return MemberProfile.of(profile)
