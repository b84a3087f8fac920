"""The one map between member attribute names (the domain's snake_case) and their public
names (camelCase): GraphQL fields, ``member.json`` and ``profile.csv`` spell them alike,
down to the keys inside a value (a postal address's ``postalCode``)."""

from __future__ import annotations

from typing import Any

from identity.models import PERSONAL_FIELDS


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


PUBLIC_NAME: dict[str, str] = {a: camel_case(a) for a in PERSONAL_FIELDS}
ATTRIBUTE_OF: dict[str, str] = {g: a for a, g in PUBLIC_NAME.items()}

# Attributes whose value is an object with snake_case keys of our own (not the member's
# free-form preferences, whose keys are the member's and are kept as given).
STRUCTURED = frozenset({"postal_address"})


def public_value(name: str, value: Any) -> Any:
    """The value of attribute ``name`` with its own keys in their public spelling."""
    if name in STRUCTURED and isinstance(value, dict):
        return {camel_case(k): v for k, v in value.items()}
    return value
