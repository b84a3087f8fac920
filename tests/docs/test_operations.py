"""Every GraphQL operation in the docs is named (typed client generators refuse anonymous
ones; docs/api.md#conventions), one name one operation, and valid against the SDL."""

from __future__ import annotations

import pytest
from graphql import build_schema, validate

from schema.schema import SDL_PATH
from tests.docs.operations import Operation, operations

OPERATIONS = list(operations())
SCHEMA = build_schema(SDL_PATH.read_text())


def test_the_docs_show_operations() -> None:
    assert len(OPERATIONS) > 30


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.where)
def test_every_operation_is_named_and_valid(operation: Operation) -> None:
    assert operation.definitions and all(d.name for d in operation.definitions), (
        f"{operation.where}: name the operation ({operation.text[:60]}...)")
    errors = validate(SCHEMA, operation.document)
    assert not errors, [e.message for e in errors]


def test_one_name_names_one_operation() -> None:
    texts: dict[str, set[str]] = {}
    for operation in OPERATIONS:
        for definition in operation.definitions:
            assert definition.name is not None
            texts.setdefault(definition.name.value, set()).add(" ".join(operation.text.split()))
    assert {name: sorted(t) for name, t in texts.items() if len(t) > 1} == {}
