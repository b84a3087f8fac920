"""Which member attributes a query asks for, read from the selection set at the root."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from schema.errors import GRAPHQL_NAMES

ATTRIBUTE_OF = {GRAPHQL_NAMES.get(a, a): a for a in (
    "member_number", "given_name", "family_name", "email", "phone", "birthdate",
    "postal_address", "preferred_language", "preferences")}


def _fields(selections: Iterable[Any]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:  # fragment spread or inline fragment
            yield from _fields(selection.selections)


def requested_attributes(info: Info, path: Sequence[str] = ()) -> list[str]:
    """Attributes selected under the root field (optionally under a sub-path like items)."""
    level: list[Any] = list(info.selected_fields)
    for step in path:
        level = [s for f in _fields(level) for s in f.selections]
        level = [f for f in _fields(level) if f.name == step]
    names = {f.name for field in _fields(level) for f in _fields(field.selections)}
    return sorted(ATTRIBUTE_OF[n] for n in names if n in ATTRIBUTE_OF)
