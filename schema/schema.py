"""The strawberry schema; its operations run through one guard (``schema/operations.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import strawberry
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.tools import merge_types
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from schema.audit.queries import AccessLogQuery, MyAccessLogQuery
from schema.consent.mutations import ConsentMutation
from schema.consent.queries import (
    ConsentProofQuery,
    MemberConsentQuery,
    MemberDataQuery,
    ProcessingStatusQuery,
)
from schema.identity.mutations import MemberMutation
from schema.identity.queries import MemberQuery
from schema.operations import Observer, OperationGuard
from schema.outbox.mutations import DeliveryMutation
from schema.outbox.queries import DeliveryQuery
from schema.retention.mutations import RetentionMutation
from schema.retention.queries import LegalHoldQuery, RetentionQuery
from schema.scalars import OVERRIDES
from schema.subject_requests.mutations import RequestMutation
from schema.subject_requests.queries import ErasureQuery, RequestQuery
from vaultkernel.settings import Settings

# The root fields print in this order in the published SDL (schema.graphql): the domains'
# parts interleave so that the SDL stays as it was published.
Query = merge_types("Query", (MemberQuery, MemberConsentQuery, MyAccessLogQuery,
                             ProcessingStatusQuery, MemberDataQuery, AccessLogQuery,
                             ConsentProofQuery, RequestQuery, DeliveryQuery, LegalHoldQuery,
                             ErasureQuery, RetentionQuery))
Mutation = merge_types("Mutation", (MemberMutation, ConsentMutation, RequestMutation,
                                    DeliveryMutation, RetentionMutation))

SDL_PATH = Path(__file__).resolve().parent / "schema.graphql"
ALL_OPERATIONS = frozenset(DEFAULT_ALLOWED_OPERATION_TYPES)


class MembervaultSchema(strawberry.Schema):
    """strawberry's schema, whose ``execute_sync`` (and ``execute``) run the operation
    through :class:`~schema.operations.OperationGuard`: parsing and validation cached per
    query text, the limits, masking and scrubbing, the observer (metrics and span)."""

    def __init__(self, settings: Settings, observe: Observer | None = None,
                 **options: Any) -> None:
        super().__init__(**options)
        self.guard = OperationGuard(self._schema, settings, observe)

    def execute_sync(self, query: str | None, variable_values: dict[str, Any] | None = None,
                     context_value: Any | None = None, root_value: Any | None = None,
                     operation_name: str | None = None,
                     allowed_operation_types: Iterable[OperationType] | None = None,
                     operation_extensions: dict[str, Any] | None = None) -> ExecutionResult:
        allowed = (ALL_OPERATIONS if allowed_operation_types is None
                   else frozenset(allowed_operation_types))
        return self.guard.execute(query, variable_values, context_value, operation_name,
                                  allowed, operation_extensions, root_value)

    async def execute(self, query: str | None, variable_values: dict[str, Any] | None = None,
                      context_value: Any | None = None, root_value: Any | None = None,
                      operation_name: str | None = None,
                      allowed_operation_types: Iterable[OperationType] | None = None,
                      operation_extensions: dict[str, Any] | None = None) -> ExecutionResult:
        """The same guarded path (every resolver is synchronous)."""
        return self.execute_sync(query, variable_values, context_value, root_value,
                                 operation_name, allowed_operation_types, operation_extensions)


def build_schema(settings: Settings, observe: Observer | None = None) -> MembervaultSchema:
    """The schema; ``observe`` (the composition root's metrics and span) wraps each
    operation from parsing to answer."""
    return MembervaultSchema(settings, observe, query=Query, mutation=Mutation,
                             scalar_overrides=OVERRIDES)


def sdl() -> str:
    return strawberry.Schema(query=Query, mutation=Mutation,
                             scalar_overrides=OVERRIDES).as_str() + "\n"
