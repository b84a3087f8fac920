"""``membervault schema export`` (membervault/cli/sdl.py)."""

from __future__ import annotations

from pathlib import Path

from schema.schema import sdl
from tests.membervault.cli.support import ok


def test_schema_export_writes_the_sdl(workdir: Path) -> None:
    target = workdir / "out" / "schema.graphql"
    target.parent.mkdir()
    ok("schema", "export", str(target))  # never the default: that is the repository file
    text = target.read_text()
    assert text == sdl()
    assert "type Query" in text and "type Mutation" in text
