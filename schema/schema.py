"""The strawberry schema with its protective extensions."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path

import strawberry
from graphql import ASTValidationRule, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from schema.audit.queries import AccessLogQuery, MyAccessLogQuery
from schema.consent.mutations import ConsentMutation
from schema.consent.queries import (
    ConsentProofQuery,
    MemberConsentQuery,
    MemberDataQuery,
    ProcessingStatusQuery,
)
from schema.errors import graphql_error, is_domain_error
from schema.identity.mutations import MemberMutation
from schema.identity.queries import MemberQuery
from schema.outbox.mutations import DeliveryMutation
from schema.outbox.queries import DeliveryQuery
from schema.retention.mutations import RetentionMutation
from schema.retention.queries import LegalHoldQuery, RetentionQuery
from schema.scalars import OVERRIDES
from schema.scrub import scrub
from schema.subject_requests.mutations import RequestMutation
from schema.subject_requests.queries import ErasureQuery, RequestQuery
from vaultkernel.request_id import current_request_id
from vaultkernel.settings import Settings

# The root fields print in this order in the published SDL (schema.graphql): the domains'
# parts interleave so that the SDL stays as it was published.
Query = merge_types("Query", (MemberQuery, MemberConsentQuery, MyAccessLogQuery,
                             ProcessingStatusQuery, MemberDataQuery, AccessLogQuery,
                             ConsentProofQuery, RequestQuery, DeliveryQuery, LegalHoldQuery,
                             ErasureQuery, RetentionQuery))
Mutation = merge_types("Mutation", (MemberMutation, ConsentMutation, RequestMutation,
                                    DeliveryMutation, RetentionMutation))

log = logging.getLogger("membervault.graphql")
SDL_PATH = Path(__file__).resolve().parent / "schema.graphql"


def is_expected(error: GraphQLError) -> bool:
    """Domain errors (refusals, with a code) or graphql-core's own validation errors."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError) or is_domain_error(error)


class MaskUnexpectedErrors(MaskErrors):
    """Masks unexpected errors (with the request id) and scrubs echoed input values; with
    ``hide_suggestions``, anonymous callers get no "did you mean" hints either."""

    def __init__(self, hide_suggestions: bool = False) -> None:
        super().__init__(should_mask_error=lambda e: not is_expected(e))
        self.hide_suggestions = hide_suggestions

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        # Copies: validation errors come from a cache shared by every caller of the same
        # document, so scrubbing one caller's answer must not change the next caller's.
        processed = [_copied(graphql_error(e)) for e in super()._process_errors(errors)]
        anonymous = getattr(self.execution_context.context, "principal", None) is None
        suggestions = not (self.hide_suggestions and anonymous)
        for error in processed:
            error.message = scrub(error.message, suggestions=suggestions)
        return processed

    def _process_result(self, result: object) -> None:
        # strawberry's own checks ``isinstance(result, <runtime Protocol>)``: ~7 us per
        # request for what one attribute look-up says.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.message = f"Internal error (request id {current_request_id()})"
        masked.extensions = {"code": "INTERNAL_ERROR", "requestId": current_request_id()}
        return masked


def _copied(error: GraphQLError) -> GraphQLError:
    """The same error as a new object (its class keeps the fields in slots, and the
    constructors of its subclasses differ)."""
    return GraphQLError(error.message, nodes=error.nodes, source=error.source,
                        positions=error.positions, path=error.path,
                        original_error=error.original_error, extensions=error.extensions)


class ParserCacheReportingErrors(ParserCache):
    """strawberry's ``ParserCache`` raises a syntax error from inside its hook, which ends
    the operation before the extensions see the result: the error would escape
    ``MaskUnexpectedErrors`` (and its scrubbing). A document that does not parse is left to
    strawberry, which parses it again and reports the error like any other."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(context.query,
                                                                  **context.parse_options)
        yield


class MembervaultSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        # Messages may echo inputs (personal values): log only the type and where.
        for error in errors:
            original = error.original_error
            if original is None or is_expected(error):
                continue
            frames = "".join(traceback.format_tb(original.__traceback__))
            log.error("unexpected %s at %s (request id %s)\n%s", type(original).__name__,
                      error.path, current_request_id(), frames)


class ProtectiveRules(SchemaExtension):
    """Adds validation rules built once per schema.

    strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` create a new rule class per
    instance, i.e. per request, which changes the validation cache key every time and
    defeats ``ValidationCache``; building the rule classes once keeps the cache effective.
    """

    def __init__(self, rules: tuple[type[ASTValidationRule], ...]):
        self.rules = rules

    def on_operation(self) -> Iterator[None]:
        self.execution_context.validation_rules = (
            tuple(self.execution_context.validation_rules) + self.rules)
        yield


def build_schema(settings: Settings,
                 observers: Sequence[Callable[[], SchemaExtension]] = ()) -> strawberry.Schema:
    """The schema; ``observers`` (the composition root's metrics and traces) wrap every
    other extension, so they see an operation from parsing to answer."""
    rules: list[type[ASTValidationRule]] = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    # Factories: strawberry builds fresh extension instances per request; the parser and
    # validation caches live at module level and are shared across requests.
    extensions: list[Callable[[], SchemaExtension]] = [
        *observers,
        partial(ParserCacheReportingErrors, maxsize=256),
        partial(ValidationCache, maxsize=256),
        partial(ProtectiveRules, tuple(rules)),
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        # Suggestions would map the schema for strangers where introspection is off.
        partial(MaskUnexpectedErrors, hide_suggestions=not settings.introspection_enabled),
    ]
    return MembervaultSchema(query=Query, mutation=Mutation, extensions=extensions,
                             scalar_overrides=OVERRIDES)


def sdl() -> str:
    return MembervaultSchema(query=Query, mutation=Mutation,
                             scalar_overrides=OVERRIDES).as_str() + "\n"
