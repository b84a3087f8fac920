"""The database schema: ``membervault db ...``."""

from __future__ import annotations

import typer
from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError

from membervault import migrate
from membervault.cli.context import console, fail, read_settings
from membervault.readiness import first_line

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply database migrations."""
    settings = read_settings()
    try:
        migrate.upgrade(settings.database_url, revision)
    except CommandError as exc:  # an unknown revision, or a broken migration history
        raise fail(f"cannot upgrade to {revision!r}: {exc}") from None
    except SQLAlchemyError as exc:
        console.print(f"[red]cannot upgrade:[/red] {first_line(exc)}")
        raise typer.Exit(2) from None
    console.print(f"database at revision {revision}")

