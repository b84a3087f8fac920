"""Running one GraphQL operation: parsed and validated once per document, its limits,
masking and scrubbing, in one pass instead of a chain of strawberry extensions.

A document is parsed (with the token limit) and validated (with the fixed rule set: the
specified rules, depth, aliases, no introspection where it is off) once; the result is
kept per query text, so a repeated operation goes straight to graphql-core's ``execute``
with strawberry's own execution context (field extensions, ``Info``). What strawberry's
``execute_sync`` did around that (five extensions, an extensions runner and an execution
context per request) cost ~120 us per operation, execution itself ~25 us.

Errors are answered as strawberry answered them, in the same order: no query, a syntax
error (an answer with errors), an operation that cannot be found or is not allowed
(raised, the HTTP view answers 400), validation errors (an answer with errors). Cached
errors are shared by every caller of the same text, so each answer scrubs copies.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from inspect import isawaitable
from typing import Any, cast

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    execute,
    parse,
    specified_rules,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.exceptions import MissingQueryError
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, validate_document
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from schema.errors import graphql_error, is_domain_error
from schema.scrub import scrub
from vaultkernel.request_id import current_request_id
from vaultkernel.settings import Settings

log = logging.getLogger("membervault.graphql")
DOCUMENTS = 256  # query texts kept parsed and validated
# strawberry's checks, as its execute_sync passes them (typed as graphql-core's guards).
IS_AWAITABLE = cast(Any, optimized_is_awaitable)
NEVER_ITERATED = cast(Any, lambda _value: False)


@dataclass
class Operation:
    """What an observer learns of one operation: never its text nor its variables."""

    name: str | None = None  # as asked, else the document's first operation's
    kind: str = "unknown"  # query, mutation, subscription; unknown when none was found
    ok: bool = False


Observer = Callable[[Operation], AbstractContextManager[object]]


@dataclass(frozen=True)
class Prepared:
    """A query text parsed and validated: its document, or the errors that refuse it."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]  # the syntax error (no document) or validation's
    operations: dict[str, OperationType]
    first: OperationDefinitionNode | None


def is_expected(error: GraphQLError) -> bool:
    """Domain errors (refusals, with a code) or graphql-core's own validation errors."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError) or is_domain_error(error)


def rules_for(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """The validation rules, built once: strawberry's limiter extensions build a new rule
    class per request."""
    rules: list[type[ASTValidationRule]] = [
        *specified_rules,
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


class OperationGuard:
    """Parses, validates, checks the operation type, executes, masks and scrubs."""

    def __init__(self, schema: GraphQLSchema, settings: Settings,
                 observe: Observer | None = None) -> None:
        self.schema = schema
        self.rules = rules_for(settings)
        self.max_tokens = settings.max_tokens
        # Suggestions would map the schema for strangers where introspection is off.
        self.hide_suggestions = not settings.introspection_enabled
        self.observe = observe
        self.prepared = lru_cache(maxsize=DOCUMENTS)(self._prepare)

    def _prepare(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError as error:
            return Prepared(None, (error,), {}, None)
        operations: dict[str, OperationType] = {}
        first = None
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                first = first or definition
                if definition.name and definition.name.value not in operations:
                    operations[definition.name.value] = OperationType(
                        definition.operation.value)
        errors = validate_document(self.schema, document, self.rules)
        return Prepared(document, tuple(errors), operations, first)

    def execute(self, query: str | None, variables: dict[str, Any] | None, context: Any,
                operation_name: str | None, allowed: Collection[OperationType],
                operation_extensions: dict[str, Any] | None = None,
                root_value: Any = None) -> ExecutionResult:
        operation = Operation(name=operation_name)
        observed = self.observe(operation) if self.observe else nullcontext()
        with observed:
            try:
                result = self._run(operation, query, variables, context, allowed,
                                   operation_extensions, root_value)
            except (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError):
                raise
            except Exception as exc:  # noqa: BLE001  (answered masked, like strawberry)
                # Always masked, whatever it is: its text may quote the document.
                _log_failure(exc, None)
                operation.ok = False
                return ExecutionResult(data=None, errors=[_masked(GraphQLError(""))])
            if result.errors:
                self.log_unexpected(result.errors)
                result.errors = self.masked(result.errors, context)
            operation.ok = not result.errors
            return result

    def _run(self, operation: Operation, query: str | None, variables: dict[str, Any] | None,
             context: Any, allowed: Collection[OperationType],
             operation_extensions: dict[str, Any] | None, root_value: Any) -> ExecutionResult:
        if not query:
            raise MissingQueryError
        prepared = self.prepared(query)
        if prepared.document is None:
            return ExecutionResult(data=None, errors=list(prepared.errors))
        name = operation.name
        if name is not None:
            kind = prepared.operations.get(name)
            if kind is None:
                raise CannotGetOperationTypeError(name)
        elif prepared.first is None:
            raise CannotGetOperationTypeError(None)
        else:
            kind = OperationType(prepared.first.operation.value)
            name = operation.name = prepared.first.name.value if prepared.first.name else None
        operation.kind = kind.value
        if kind not in allowed:
            raise InvalidOperationTypeError(kind)
        if prepared.errors:
            return ExecutionResult(data=None, errors=list(prepared.errors))
        result = execute(self.schema, prepared.document, root_value=root_value,
                         context_value=context, variable_values=variables,
                         operation_name=name, executor_class=StrawberryGraphQLCoreExecutionContext,
                         is_awaitable=IS_AWAITABLE, is_async_iterable=NEVER_ITERATED,
                         operation_extensions=operation_extensions)
        if isawaitable(result):  # an async resolver: a bug, answered as an internal error
            close = getattr(result, "close", None)
            if close is not None:
                close()  # a coroutine never awaited
            raise RuntimeError("GraphQL execution failed to complete synchronously.")
        return ExecutionResult(data=result.data, errors=result.errors)

    @staticmethod
    def log_unexpected(errors: list[GraphQLError]) -> None:
        # Messages may echo inputs (personal values): log only the type and where.
        for error in errors:
            original = error.original_error
            if original is None or is_expected(error):
                continue
            _log_failure(original, error.path)

    def masked(self, errors: list[GraphQLError], context: Any) -> list[GraphQLError]:
        """Unexpected errors masked (with the request id); every message scrubbed of the
        input values it echoes and, for anonymous callers where introspection is off, of
        "did you mean" hints. Always on copies: cached errors are shared."""
        anonymous = getattr(context, "principal", None) is None
        suggestions = not (self.hide_suggestions and anonymous)
        processed = []
        for error in errors:
            if is_expected(error):
                error = _copied(graphql_error(error))
                error.message = scrub(error.message, suggestions=suggestions)
            else:
                error = _masked(error)
            processed.append(error)
        return processed


def _log_failure(exc: BaseException, path: Any) -> None:
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unexpected %s at %s (request id %s)\n%s", type(exc).__name__, path,
              current_request_id(), frames)


def _masked(error: GraphQLError) -> GraphQLError:
    request_id = current_request_id()
    return GraphQLError(f"Internal error (request id {request_id})", nodes=error.nodes,
                        source=error.source, positions=error.positions, path=error.path,
                        extensions={"code": "INTERNAL_ERROR", "requestId": request_id})


def _copied(error: GraphQLError) -> GraphQLError:
    """The same error as a new object (its class keeps the fields in slots, and the
    constructors of its subclasses differ)."""
    return GraphQLError(error.message, nodes=error.nodes, source=error.source,
                        positions=error.positions, path=error.path,
                        original_error=error.original_error,
                        extensions=dict(error.extensions) if error.extensions else None)
