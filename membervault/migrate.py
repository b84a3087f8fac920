"""Applying Alembic migrations from code (``membervault db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from identity.keyring import Keyring
from vaultkernel.database import normalise_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class KeyringRequired(RuntimeError):
    """A migration must seal data under the members' data keys, and no keyring was given."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head", *, keyring: Keyring | None = None) -> None:
    """Apply migrations up to ``revision``. A revision that rewrites sealed data (0010:
    consent evidence sealed under the members' data keys) needs the ``keyring`` when the
    database holds such data."""
    config = alembic_config(url)
    config.attributes["keyring"] = keyring
    command.upgrade(config, revision)
