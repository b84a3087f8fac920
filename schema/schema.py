"""The strawberry schema with its protective extensions."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
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
from strawberry.types import ExecutionContext

from membervault.requests import current_request_id
from membervault.settings import Settings
from schema.mutations import Mutation
from schema.queries import Query

log = logging.getLogger("membervault.graphql")
SDL_PATH = Path(__file__).resolve().parent / "schema.graphql"


def is_expected(error: GraphQLError) -> bool:
    """Errors we raised on purpose (with a code) or graphql-core's own validation errors."""
    original = error.original_error
    return (original is None or isinstance(original, GraphQLError)
            or bool(error.extensions and "code" in error.extensions))


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda e: not is_expected(e))

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.message = f"Internal error (request id {current_request_id()})"
        masked.extensions = {"code": "INTERNAL_ERROR", "requestId": current_request_id()}
        return masked


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


def build_schema(settings: Settings) -> strawberry.Schema:
    rules: list[type[ASTValidationRule]] = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    # Factories: strawberry builds fresh extension instances per request; the parser and
    # validation caches live at module level and are shared across requests.
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(ParserCache, maxsize=256),
        partial(ValidationCache, maxsize=256),
        partial(ProtectiveRules, tuple(rules)),
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        MaskUnexpectedErrors,
    ]
    return MembervaultSchema(query=Query, mutation=Mutation, extensions=extensions)


def sdl() -> str:
    return MembervaultSchema(query=Query, mutation=Mutation).as_str() + "\n"
