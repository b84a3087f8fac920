"""Whether this process may serve: the database answers, is migrated to the code's
revision, and the keyring opens its keys. Checked before ``serve`` and ``worker`` bind or
start (one clear line and exit code 2 when not), and by ``/readyz``."""

from __future__ import annotations

from dataclasses import dataclass

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from identity.key_check import foreign_keyring
from membervault.migrate import alembic_config
from membervault.services import Services
from vaultkernel.database import Database


@dataclass(frozen=True)
class NotReady(Exception):
    """Why not: a stable code (``/readyz`` answers it) and one line for the operator."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def where(db: Database) -> str:
    """The database's address without credentials, for messages."""
    url = make_url(str(db.engine.url))
    if url.get_backend_name() == "sqlite":
        return f"sqlite file {url.database}"
    host = f"{url.host or 'localhost'}:{url.port or 5432}"
    return f"{url.get_backend_name()} at {host}/{url.database}"


def first_line(exc: BaseException) -> str:
    """The driver's reason, first line only (SQLAlchemy adds the statement after it; the
    engine hides bound parameters)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def check_database(db: Database) -> None:
    try:
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise NotReady("database_unreachable",
                       f"cannot reach the database ({where(db)}): {first_line(exc)}") from None
    head = head_revision()
    if current != head:
        state = "never migrated" if current is None else f"at revision {current}"
        raise NotReady("database_not_migrated",
                       f"the database ({where(db)}) is {state}, this code needs {head}: "
                       "run 'membervault db upgrade'")


def check_keyring(services: Services) -> None:
    with services.db.unit_of_work() as uow:
        problem = foreign_keyring(uow.session, services.keyring)
    if problem is not None:
        raise NotReady("keyring_mismatch", problem)


def check(services: Services) -> None:
    """Raise :class:`NotReady` with the first problem found."""
    check_database(services.db)
    check_keyring(services)
