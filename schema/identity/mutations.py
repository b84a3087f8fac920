"""Registering a member and correcting your own profile. Expected problems come back in
``errors``; nothing is half-written."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from consent import notify
from consent.registration import register_for_membership
from identity import members
from schema.access import MEMBERSHIP, Role, guarded, reachable_by
from schema.consent.types import MemberData
from schema.errors import FieldError, field_errors
from schema.identity.types import (
    MemberProfile,
    RegisterMemberInput,
    UpdateProfileInput,
    UpdateProfilePayload,
    input_values,
)
from schema.selection import requested_attributes
from vaultkernel.errors import DomainError


@strawberry.type(directives=reachable_by(Role.CLIENT, Role.ADMIN))
class RegisterMemberPayload:
    member_number: str | None = strawberry.field(
        default=None, description="The new member's number (their public handle).")
    member: MemberProfile | None = strawberry.field(
        default=None, description="Admins: the whole new profile. Null for clients.")
    member_data: MemberData | None = strawberry.field(
        default=None, description="Clients: what the membership purpose covers.")
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class MemberMutation:
    @strawberry.mutation(description="Register a new member (admins, or clients acting for "
                         "the membership purpose).", extensions=guarded(Role.CLIENT, Role.ADMIN,
                                                               purpose=MEMBERSHIP))
    def register_member(self, info: Info, input: RegisterMemberInput) -> RegisterMemberPayload:
        ctx = info.context
        region = ctx.services.settings.default_region
        try:
            if ctx.principal.role == "client":
                number, data = register_for_membership(
                    ctx.uow, ctx.services.crypto, ctx.services.policy, input_values(input),
                    requested_attributes(info, ("memberData",)), default_region=region,
                    log=ctx.reads)
                return RegisterMemberPayload(member_number=number,
                                             member_data=MemberData.of(data))
            profile = members.register_member(
                ctx.uow, ctx.services.crypto, input_values(input), actor=ctx.principal.actor,
                default_region=region, log=ctx.reads, purpose=members.ADMINISTRATION,
                returned=requested_attributes(info, ("member",)))
        except DomainError as exc:
            return RegisterMemberPayload(errors=field_errors(exc))
        return RegisterMemberPayload(member_number=profile.member_number,
                                     member=MemberProfile.of(profile))

    @strawberry.mutation(description="Correct your own profile (GDPR Art. 16).",
                         extensions=guarded(Role.MEMBER_SELF))
    def update_my_profile(self, info: Info, input: UpdateProfileInput) -> UpdateProfilePayload:
        ctx = info.context
        try:
            member_id, policy = ctx.principal.member_id, ctx.services.policy
            profile = members.correct_own_profile(
                ctx.uow, ctx.services.crypto, member_id, input_values(input),
                fields=requested_attributes(info, ("member",)), log=ctx.reads,
                default_region=ctx.services.settings.default_region,
                notify=lambda session, fields: notify.rectified(session, policy, member_id,
                                                                fields))
        except DomainError as exc:
            return UpdateProfilePayload(member=None, errors=field_errors(exc))
        return UpdateProfilePayload(member=MemberProfile.of(profile), errors=[])
