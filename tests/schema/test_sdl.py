"""The published SDL (schema/schema.graphql) matches the code."""

from __future__ import annotations

from schema.schema import SDL_PATH, sdl


def test_exported_sdl_is_current() -> None:
    assert SDL_PATH.read_text() == sdl(), (
        "schema/schema.graphql is stale: run 'membervault schema export'")
