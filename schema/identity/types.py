"""GraphQL types of the member profile, its inputs and payloads, and member id arguments."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import strawberry
from strawberry.scalars import JSON

from identity.members import MemberProfile as Profile
from schema.access import Role, reachable_by
from schema.errors import FieldError
from vaultkernel.errors import DomainError


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF, Role.CLIENT, Role.ADMIN))
class PostalAddress:
    lines: list[str]
    locality: str
    region: str | None
    postal_code: str | None
    country: str


@strawberry.type(
    description="A member's profile: their own, or one read by an admin.",
    directives=reachable_by(Role.MEMBER_SELF, Role.CLIENT, Role.ADMIN),
)
class MemberProfile:
    id: strawberry.ID
    member_number: str
    given_name: str
    family_name: str
    email: str
    phone: str | None
    birthdate: dt.date | None
    postal_address: PostalAddress | None
    preferred_language: str | None
    preferences: JSON | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, p: Profile) -> MemberProfile:
        address = p.postal_address
        return cls(
            id=strawberry.ID(str(p.id)),
            member_number=p.member_number,
            given_name=p.given_name,
            family_name=p.family_name,
            email=p.email,
            phone=p.phone,
            birthdate=p.birthdate,
            postal_address=PostalAddress(
                lines=address["lines"], locality=address["locality"],
                region=address.get("region"), postal_code=address.get("postal_code"),
                country=address["country"],
            ) if address else None,
            preferred_language=p.preferred_language,
            preferences=None if p.preferences is None else JSON(p.preferences),
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


@strawberry.input
class PostalAddressInput:
    lines: list[str]
    locality: str
    country: str
    region: str | None = None
    postal_code: str | None = None


@strawberry.input(description="A new member. Unknown fields are rejected.")
class RegisterMemberInput:
    given_name: str
    family_name: str
    email: str
    phone: str | None = None
    birthdate: str | None = strawberry.field(default=None, description="YYYY-MM-DD")
    postal_address: PostalAddressInput | None = None
    preferred_language: str | None = strawberry.field(default=None, description="BCP 47")
    preferences: JSON | None = None


@strawberry.input(description="Corrections to your profile; omitted fields stay, null clears.")
class UpdateProfileInput:
    given_name: str | None = strawberry.UNSET
    family_name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    birthdate: str | None = strawberry.UNSET
    postal_address: PostalAddressInput | None = strawberry.UNSET
    preferred_language: str | None = strawberry.UNSET
    preferences: JSON | None = strawberry.UNSET


def input_values(obj: Any) -> dict[str, Any]:
    """Plain dict of the given (not UNSET) input fields, nested inputs as dicts."""
    values: dict[str, Any] = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        if value is strawberry.UNSET:
            continue
        if isinstance(value, PostalAddressInput):
            value = {k: v for k, v in vars(value).items() if v is not None}
        values[name] = value
    return values


@strawberry.type(directives=reachable_by(Role.MEMBER_SELF))
class UpdateProfilePayload:
    member: MemberProfile | None
    errors: list[FieldError]


def parse_member_id(value: str) -> uuid.UUID:
    """A member's internal id given as an ``ID`` argument."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError("INVALID_MEMBER_ID", "memberId must be a member's internal id") from None
