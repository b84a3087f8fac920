"""The database schema: ``membervault db ...``."""

from __future__ import annotations

import typer

from membervault import migrate
from membervault.cli.context import console, read_settings

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply database migrations."""
    settings = read_settings()
    migrate.upgrade(settings.database_url, revision)
    console.print(f"database at revision {revision}")

