"""The database schema: ``membervault db ...``."""

from __future__ import annotations

from pathlib import Path

import typer
from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError

from identity.errors import KeyringError
from identity.keyring import Keyring, load_keyring
from membervault import migrate
from membervault.cli.context import console, fail, read_settings
from membervault.readiness import first_line
from vaultkernel.settings import Settings

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply database migrations."""
    settings = read_settings()
    try:
        migrate.upgrade(settings.database_url, revision, keyring=_existing_keyring(settings))
    except CommandError as exc:  # an unknown revision, or a broken migration history
        raise fail(f"cannot upgrade to {revision!r}: {exc}") from None
    except migrate.KeyringRequired as exc:
        raise fail(f"cannot upgrade: {exc}") from None
    except SQLAlchemyError as exc:
        console.print(f"[red]cannot upgrade:[/red] {first_line(exc)}")
        raise typer.Exit(2) from None
    console.print(f"database at revision {revision}")



def _existing_keyring(settings: Settings) -> Keyring | None:
    """The configured keyring, for migrations that seal data under members' keys; never
    one generated here (a new keyring could open nothing the database holds)."""
    if not settings.kek_json and not Path(settings.kek_file).is_file():
        return None
    try:
        return load_keyring(settings.kek_json, settings.kek_file, production=settings.production)
    except KeyringError as exc:
        raise fail(f"cannot upgrade: {exc}") from None
