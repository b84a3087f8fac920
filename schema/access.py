"""Who may reach each GraphQL field.

Every root field carries an :class:`Allow` permission (checked once, at the root) and the
``@access`` directive it prints in the SDL; every object type carries ``@access`` naming
who can be handed it. ``tests/schema/test_access_rules.py`` walks the schema and fails
for anything without a rule.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location
from strawberry.types import Info

from vaultkernel.errors import DomainError


@strawberry.enum(description="Who may reach a field.")
class Role(Enum):
    MEMBER_SELF = "member_self"
    CLIENT = "client"
    OFFICER = "officer"
    ADMIN = "admin"


PRINCIPAL_ROLE = {
    Role.MEMBER_SELF: "member",
    Role.CLIENT: "client",
    Role.OFFICER: "officer",
    Role.ADMIN: "admin",
}


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION, Location.OBJECT],
    description="The roles that may reach this field or be handed this type; a client "
    "also needs the named purpose (for $argument, the purpose it declares in that "
    "argument; for @membership, the policy's membership purpose) in its registration and "
    "its token.",
)
class Access:
    roles: list[Role]
    purpose: str | None = None


def access_of(obj: Any) -> Access | None:
    """The ``@access`` directive of a strawberry type or field, if any."""
    for directive in getattr(obj, "directives", None) or ():
        if isinstance(directive, Access):
            return directive
    return None


# ``purpose=MEMBERSHIP``: the purpose the policy file marks ``membership = true``.
MEMBERSHIP = "@membership"


class Allow(BasePermission):
    """Grants the field to principals of the given roles (and, for clients, a purpose)."""

    def __init__(self, *roles: Role, purpose: str | None = None,
                 purpose_argument: str | None = None):
        self.roles = roles
        self.purpose = purpose
        self.purpose_argument = purpose_argument
        declared = purpose or (f"${purpose_argument}" if purpose_argument else None)
        # strawberry declares it on the class; each Allow prints its own rule.
        self._schema_directive = Access(roles=list(roles), purpose=declared)  # type: ignore[misc]

    def _purpose(self, info: Info, kwargs: dict[str, Any]) -> str | None:
        if self.purpose_argument is not None:
            value = kwargs.get(self.purpose_argument)
            return value if isinstance(value, str) else None
        if self.purpose == MEMBERSHIP:
            return str(info.context.services.policy.membership.key)
        return self.purpose

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal is None:
            raise DomainError("UNAUTHENTICATED", "Authentication required")
        if principal.role not in {PRINCIPAL_ROLE[r] for r in self.roles}:
            raise DomainError("FORBIDDEN", "Not allowed for this principal")
        purpose = self._purpose(info, kwargs)
        # The registration may have narrowed since the token was issued: check both.
        if principal.role == "client" and purpose is not None and (
                purpose not in principal.purposes
                or not info.context.services.registrations.may_declare(
                    principal.client_id, purpose)):
            raise DomainError("PURPOSE_NOT_PERMITTED",
                              f"This client may not act for purpose {purpose}")
        return True


def guarded(*roles: Role, purpose: str | None = None,
            purpose_argument: str | None = None) -> list[FieldExtension]:
    """The field extensions that guard a root field: ``extensions=guarded(Role.MEMBER_SELF)``.

    ``purpose`` fixes the purpose a client must hold; ``purpose_argument`` names the field
    argument in which the client declares it (rule 1: purpose-bound reads).
    """
    allow = Allow(*roles, purpose=purpose, purpose_argument=purpose_argument)
    return [PermissionExtension(permissions=[allow])]


def reachable_by(*roles: Role) -> list[object]:
    """Type directives: who can be handed objects of this type."""
    return [Access(roles=list(roles))]
