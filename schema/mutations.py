"""Mutation root. Expected problems come back in ``errors``; nothing is half-written."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from identity import members
from identity.errors import IdentityError
from schema.access import Role, guarded
from schema.types import (
    FieldError,
    MemberProfile,
    RegisterMemberInput,
    RegisterMemberPayload,
    UpdateProfileInput,
    UpdateProfilePayload,
    input_values,
)

MEMBERSHIP = "loyalty.membership"


@strawberry.type(description="Write operations.")
class Mutation:
    @strawberry.mutation(description="Register a new member (admins, or clients acting for "
                         "the membership purpose).", **guarded(Role.CLIENT, Role.ADMIN,
                                                               purpose=MEMBERSHIP))
    def register_member(self, info: Info, input: RegisterMemberInput) -> RegisterMemberPayload:
        ctx = info.context
        try:
            profile = members.register_member(
                ctx.uow, ctx.services.crypto, input_values(input), actor=ctx.principal.actor,
                default_region=ctx.services.settings.default_region)
        except IdentityError as exc:
            return RegisterMemberPayload(member=None, errors=FieldError.all_of(exc))
        return RegisterMemberPayload(member=MemberProfile.of(profile), errors=[])

    @strawberry.mutation(description="Correct your own profile (GDPR Art. 16).",
                         **guarded(Role.MEMBER_SELF))
    def update_my_profile(self, info: Info, input: UpdateProfileInput) -> UpdateProfilePayload:
        ctx = info.context
        try:
            profile = members.rectify_member(
                ctx.uow, ctx.services.crypto, ctx.principal.member_id, input_values(input),
                actor=ctx.principal.actor, default_region=ctx.services.settings.default_region)
        except IdentityError as exc:
            return UpdateProfilePayload(member=None, errors=FieldError.all_of(exc))
        return UpdateProfilePayload(member=MemberProfile.of(profile), errors=[])
