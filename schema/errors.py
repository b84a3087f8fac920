"""The one place where a domain error becomes GraphQL: a payload ``errors`` entry or a
top-level error with ``extensions.code``.

The rule (docs/api.md#errors): a mutation with a payload answers what its use case refuses
in ``errors { field code message }``; a query, a mutation without a payload, a malformed
argument the resolver cannot parse, and the :data:`REFUSALS` (who may call, fail closed)
are top-level errors. Either way the code is an :class:`ErrorCode`.
"""

from __future__ import annotations

from enum import Enum

import strawberry
from graphql import GraphQLError

from schema.access import Role, reachable_by
from schema.names import GRAPHQL_NAME
from vaultkernel.errors import DomainError


@strawberry.enum(description="Every error code membervault answers, in a payload's `errors` "
                 "or a top-level error's `extensions.code` (docs/api.md#errors).")
class ErrorCode(Enum):
    # Who may call (always top-level).
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    PURPOSE_NOT_PERMITTED = "PURPOSE_NOT_PERMITTED"
    # Failing closed, or failing (always top-level).
    ACCESS_LOG_UNAVAILABLE = "ACCESS_LOG_UNAVAILABLE"
    ARCHIVE_UNAVAILABLE = "ARCHIVE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # Member input.
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    INVALID_TYPE = "INVALID_TYPE"
    TOO_LONG = "TOO_LONG"
    INVALID_CHARACTERS = "INVALID_CHARACTERS"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_DATE = "INVALID_DATE"
    IMPLAUSIBLE_DATE = "IMPLAUSIBLE_DATE"
    TOO_YOUNG = "TOO_YOUNG"
    INVALID_LANGUAGE = "INVALID_LANGUAGE"
    INVALID_ADDRESS = "INVALID_ADDRESS"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    DUPLICATE_EMAIL = "DUPLICATE_EMAIL"
    DUPLICATE_PHONE = "DUPLICATE_PHONE"
    MEMBER_NUMBER_UNAVAILABLE = "MEMBER_NUMBER_UNAVAILABLE"
    # Finding members.
    ONE_KEY_REQUIRED = "ONE_KEY_REQUIRED"
    LOOKUP_KEY_NOT_IN_PURPOSE = "LOOKUP_KEY_NOT_IN_PURPOSE"
    INVALID_MEMBER_NUMBER = "INVALID_MEMBER_NUMBER"
    MEMBER_NOT_FOUND = "MEMBER_NOT_FOUND"
    MEMBER_ERASED = "MEMBER_ERASED"
    NOT_FOUND = "NOT_FOUND"
    # Consent, objection, restriction.
    UNKNOWN_PURPOSE = "UNKNOWN_PURPOSE"
    NOT_CONSENTABLE = "NOT_CONSENTABLE"
    NOTICE_OUTDATED = "NOTICE_OUTDATED"
    GPC_CONFLICT = "GPC_CONFLICT"
    MARKETING_SUPPRESSED = "MARKETING_SUPPRESSED"
    NOT_OBJECTABLE = "NOT_OBJECTABLE"
    INVALID_CHANNEL = "INVALID_CHANNEL"
    REASON_REQUIRED = "REASON_REQUIRED"
    # Data subject requests.
    DUPLICATE = "DUPLICATE"
    TOO_SOON = "TOO_SOON"
    UNKNOWN_TYPE = "UNKNOWN_TYPE"
    UNKNOWN_JURISDICTION = "UNKNOWN_JURISDICTION"
    PURPOSE_REQUIRED = "PURPOSE_REQUIRED"
    CORRECTIONS_REQUIRED = "CORRECTIONS_REQUIRED"
    CORRECTIONS_BY_MEMBER_ONLY = "CORRECTIONS_BY_MEMBER_ONLY"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    ALREADY_EXTENDED = "ALREADY_EXTENDED"
    EXTENSION_TOO_LATE = "EXTENSION_TOO_LATE"
    METHOD_REQUIRED = "METHOD_REQUIRED"
    UNKNOWN_DENIAL_CODE = "UNKNOWN_DENIAL_CODE"
    # Erasure, legal holds.
    EXPIRY_IN_PAST = "EXPIRY_IN_PAST"
    UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY"
    NOT_ERASED = "NOT_ERASED"
    ERASURE_HELD = "ERASURE_HELD"
    # Clients and webhooks (the command line).
    INVALID_CLIENT_ID = "INVALID_CLIENT_ID"
    DUPLICATE_CLIENT = "DUPLICATE_CLIENT"
    INVALID_ROLE = "INVALID_ROLE"
    PURPOSES_NOT_ALLOWED = "PURPOSES_NOT_ALLOWED"
    NOT_A_CLIENT = "NOT_A_CLIENT"
    INVALID_URL = "INVALID_URL"
    NON_CANONICAL_ADDRESS = "NON_CANONICAL_ADDRESS"
    INTERNAL_ADDRESS = "INTERNAL_ADDRESS"
    SIGNING_KEY_ACTIVE = "SIGNING_KEY_ACTIVE"
    # Sign-in (answered as OAuth errors outside GraphQL).
    SIGN_IN_FAILED = "SIGN_IN_FAILED"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    # Arguments.
    INVALID_PAGE_SIZE = "INVALID_PAGE_SIZE"
    INVALID_CURSOR = "INVALID_CURSOR"
    TOO_MANY = "TOO_MANY"
    INVALID_DATETIME = "INVALID_DATETIME"
    INVALID_MEMBER_ID = "INVALID_MEMBER_ID"
    INVALID_HOLD_ID = "INVALID_HOLD_ID"
    INVALID_RANGE = "INVALID_RANGE"
    INVALID_STATE = "INVALID_STATE"


# Never a payload entry: they say the caller may not act, or that nothing may be answered.
REFUSALS = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "PURPOSE_NOT_PERMITTED",
                      "ACCESS_LOG_UNAVAILABLE", "ARCHIVE_UNAVAILABLE"})

@strawberry.type(
    description="An expected problem with the input: which field, a stable code, a message.",
    directives=reachable_by(Role.MEMBER_SELF, Role.CLIENT, Role.OFFICER, Role.ADMIN),
)
class FieldError:
    field: str | None
    code: ErrorCode
    message: str


def field_errors(exc: DomainError) -> list[FieldError]:
    """The payload entries of a refusal (one per problem); a :data:`REFUSALS` code is
    raised on as a top-level error instead."""
    if exc.code in REFUSALS:
        raise exc
    return [FieldError(field=_graphql_name(p.field), code=ErrorCode(p.code),
                       message=_in_graphql_words(p.message, p.field))
            for p in exc.each_problem()]


def graphql_error(error: GraphQLError) -> GraphQLError:
    """A resolver's :class:`DomainError` as a top-level error with ``extensions.code``."""
    original = error.original_error
    if isinstance(original, DomainError):
        error.message = original.message
        error.extensions = {"code": original.code}
    return error


def is_domain_error(error: GraphQLError) -> bool:
    return isinstance(error.original_error, DomainError)


def _in_graphql_words(message: str, field: str | None) -> str:
    """Messages name the field as the caller wrote it (camelCase)."""
    if field is None:
        return message
    head = field.partition(".")[0]
    return message.replace(head, GRAPHQL_NAME.get(head, head))


def _graphql_name(name: str | None) -> str | None:
    if name is None:
        return None
    head, _, rest = name.partition(".")
    head = GRAPHQL_NAME.get(head, head)
    return f"{head}.{rest}" if rest else head
