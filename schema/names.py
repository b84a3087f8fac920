"""The one map between member attribute names (the domain's snake_case) and their GraphQL
field names (camelCase), used by the gated reads, validation messages, the selection
reader and the NDJSON audience stream alike: ``identity.names``, which the exports use
too."""

from __future__ import annotations

from identity.names import ATTRIBUTE_OF, camel_case
from identity.names import PUBLIC_NAME as GRAPHQL_NAME

__all__ = ["ATTRIBUTE_OF", "GRAPHQL_NAME", "camel_case"]
