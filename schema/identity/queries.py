"""Members' profiles: your own, and an admin's look-up (the read is in the access log)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from identity import members
from identity.errors import MemberNotFound
from schema.access import Role, guarded
from schema.identity.types import MemberProfile
from schema.selection import requested_attributes
from vaultkernel.errors import DomainError


@strawberry.type
class MemberQuery:
    @strawberry.field(description="The signed-in member's own profile.",
                      extensions=guarded(Role.MEMBER_SELF))
    def me(self, info: Info) -> MemberProfile:
        ctx = info.context
        try:
            profile = members.read_own_profile(ctx.uow, ctx.services.crypto,
                                               ctx.principal.member_id,
                                               fields=requested_attributes(info), log=ctx.reads)
        except MemberNotFound as exc:  # erased, or a token for a member that never was
            raise DomainError("MEMBER_ERASED" if exc.code == "MEMBER_ERASED"
                              else "MEMBER_NOT_FOUND",
                              "there is no member profile for this sign-in") from None
        return MemberProfile.of(profile)

    @strawberry.field(description="Look one member up by exactly one key (admins, with a "
                      "reason that goes to the audit trail; the read is in the access log).",
                      extensions=guarded(Role.ADMIN))
    def member(self, info: Info, reason: str, member_number: str | None = None,
               email: str | None = None, phone: str | None = None) -> MemberProfile | None:
        ctx = info.context
        profile = members.look_up_member(
            ctx.uow, ctx.services.crypto, reason=reason, fields=requested_attributes(info),
            log=ctx.reads, default_region=ctx.services.settings.default_region, email=email,
            phone=phone, number=member_number)
        return None if profile is None else MemberProfile.of(profile)
