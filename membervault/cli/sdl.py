"""The GraphQL schema: ``membervault schema export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from membervault.cli.context import console
from schema.schema import SDL_PATH, sdl

schema_app = typer.Typer(help="The GraphQL schema.", no_args_is_help=True)


@schema_app.command("export")
def schema_export(path: Annotated[Path | None, typer.Argument()] = None) -> None:
    """Write the GraphQL SDL (default: schema/schema.graphql, which the tests check)."""
    path = path or SDL_PATH
    path.write_text(sdl())
    console.print(f"wrote {path}")

