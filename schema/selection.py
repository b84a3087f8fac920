"""Which member attributes a query asks for, read from the selection set at the root."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from schema.names import ATTRIBUTE_OF


def _executed(selection: Any) -> bool:
    """False for a selection ``@skip``-ped or not ``@include``-d: it is not resolved, so
    nothing is decrypted or logged for it."""
    directives = getattr(selection, "directives", None) or {}
    return not (directives.get("skip", {}).get("if") is True
                or directives.get("include", {}).get("if") is False)


def _fields(selections: Iterable[Any]) -> Iterable[SelectedField]:
    for selection in selections:
        if not _executed(selection):
            continue
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
