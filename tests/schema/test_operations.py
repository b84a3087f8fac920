"""The operation guard's own promises, where the HTTP tests cannot reach them."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLError
from strawberry.types.graphql import OperationType

from schema.schema import build_schema

BOTH = (OperationType.QUERY, OperationType.MUTATION)


class Anonymous:
    principal = None


def test_a_failure_outside_execution_is_masked_even_when_it_is_a_graphql_error(
        settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    guard = build_schema(settings).guard

    def fails(query: str) -> Any:  # a GraphQLError's text quotes the document
        raise GraphQLError(f"cannot prepare {query}")

    monkeypatch.setattr(guard, "prepared", fails)
    result = guard.execute('{ me(email: "jane@example.com") { email } }', None, Anonymous(),
                           None, BOTH)
    assert result.data is None and result.errors is not None
    [error] = result.errors
    assert error.message.startswith("Internal error (request id")
    assert error.extensions is not None and error.extensions["code"] == "INTERNAL_ERROR"
    assert "jane" not in caplog.text and "unexpected GraphQLError" in caplog.text


def test_a_cached_error_is_answered_as_a_copy_of_its_own(settings: Any) -> None:
    guard = build_schema(settings).guard
    first = guard.execute("{ mee }", None, Anonymous(), None, BOTH)
    assert first.errors is not None
    first.errors[0].message = "changed"
    if first.errors[0].extensions is not None:
        first.errors[0].extensions["changed"] = True
    second = guard.execute("{ mee }", None, Anonymous(), None, BOTH)
    assert second.errors is not None
    assert second.errors[0].message != "changed"
    assert "changed" not in (second.errors[0].extensions or {})
    [cached] = guard.prepared("{ mee }").errors
    assert cached.message != "changed" and "changed" not in (cached.extensions or {})
