"""Query root: three-line resolvers that call identity services."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from identity import members
from identity.errors import IdentityError
from schema.access import Role, denied, guarded
from schema.types import MemberProfile


@strawberry.type(description="Read operations.")
class Query:
    @strawberry.field(description="The signed-in member's own profile.",
                      **guarded(Role.MEMBER_SELF))
    def me(self, info: Info) -> MemberProfile:
        ctx = info.context
        profile = members.get_member(ctx.uow, ctx.services.crypto, ctx.principal.member_id)
        return MemberProfile.of(profile)

    @strawberry.field(description="Look one member up by exactly one key (admins).",
                      **guarded(Role.ADMIN))
    def member(self, info: Info, member_number: str | None = None, email: str | None = None,
               phone: str | None = None) -> MemberProfile | None:
        ctx = info.context
        try:
            profile = members.find_member(
                ctx.uow, ctx.services.crypto, default_region=ctx.services.settings.default_region,
                email=email, phone=phone, number=member_number)
        except IdentityError as exc:
            raise denied(exc.code, exc.message) from None
        return None if profile is None else MemberProfile.of(profile)
