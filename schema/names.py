"""The one map between member attribute names (the domain's snake_case) and their GraphQL
field names (camelCase), used by the gated reads, validation messages, the selection
reader and the NDJSON audience stream alike."""

from __future__ import annotations

from identity.models import PERSONAL_FIELDS


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


GRAPHQL_NAME: dict[str, str] = {a: camel_case(a) for a in PERSONAL_FIELDS}
ATTRIBUTE_OF: dict[str, str] = {g: a for a, g in GRAPHQL_NAME.items()}
