"""Benchmark environments: a fresh database (SQLite file or PostgreSQL database), migrated by
the real migrations, with real keys, real services, registered clients and their tokens.

Nothing here is a shortcut around the service: the schema comes from Alembic, the keys
from a generated keyring, the principals from ``identity.clients.create_client`` and the
tokens from ``services.issuer`` (the token endpoint issues the same tokens).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from identity import clients
from identity.keyring import Keyring, save_keyring
from identity.principal import purpose_scope
from membervault import migrate
from membervault.services import Services, build_services, ensure_signing_key
from vaultkernel.database import create_db_engine
from vaultkernel.settings import Settings

POSTGRES_URL = os.environ.get("MEMBERVAULT_BENCH_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ISSUER = "http://127.0.0.1:8000"

# The principals the benchmarks act as (client id -> purposes).
CLIENTS = {
    "email-marketing": ("marketing.email",),
    "loyalty-engine": ("loyalty.membership", "rewards.birthday"),
}


class Unavailable(Exception):
    """The database kind cannot be benchmarked here (the message says why)."""


def postgres_reason() -> str | None:
    """Why PostgreSQL cannot be used, or ``None`` when it is reachable."""
    try:
        engine = create_db_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001  (any failure: report and skip)
        return f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__})"
    return None


class Server:
    """Creates and drops fresh databases of one kind; every name starts with ``bench_``."""

    def __init__(self, kind: str, workdir: Path, base_url: str = POSTGRES_URL):
        self.kind = kind
        self.workdir = workdir
        self.base_url = base_url
        self.prefix = f"bench_{uuid.uuid4().hex[:10]}"
        self._created: list[str] = []
        self._admin: sa.Engine | None = None
        if kind == "postgresql":
            self._admin = create_db_engine(base_url, isolation_level="AUTOCOMMIT")

    def url(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.workdir / (name + '.db')}"
        return (sa.engine.make_url(self.base_url).set(database=f"{self.prefix}_{name}")
                .render_as_string(hide_password=False))

    def create(self, name: str, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its URL."""
        if self.kind == "sqlite":
            path = self.workdir / f"{name}.db"
            if template is not None:
                source = self.workdir / f"{template}.db"
                _checkpoint(self.url(template))
                shutil.copyfile(source, path)
            return self.url(name)
        full = f"{self.prefix}_{name}"
        assert self._admin is not None
        with self._admin.connect() as connection:
            if template is None:
                connection.execute(sa.text(f'CREATE DATABASE "{full}"'))
            else:
                connection.execute(sa.text(
                    f'CREATE DATABASE "{full}" TEMPLATE "{self.prefix}_{template}" '
                    "STRATEGY FILE_COPY"))
        self._created.append(full)
        return self.url(name)

    def drop(self, name: str) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                (self.workdir / f"{name}.db{suffix}").unlink(missing_ok=True)
            return
        full = f"{self.prefix}_{name}"
        assert self._admin is not None
        with self._admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{full}" WITH (FORCE)'))
        if full in self._created:
            self._created.remove(full)

    def close(self) -> None:
        if self._admin is not None:
            for full in list(self._created):
                with self._admin.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{full}" WITH (FORCE)'))
            self._created.clear()
            self._admin.dispose()


def _checkpoint(url: str) -> None:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


@dataclass
class Env:
    """One migrated database with services, clients and tokens."""

    kind: str
    url: str
    workdir: Path
    settings: Settings
    services: Services
    tokens: dict[str, str] = field(default_factory=dict)
    keyring_file: Path | None = None

    @property
    def engine(self) -> sa.Engine:
        return self.services.db.engine

    def token(self, client_id: str) -> str:
        return self.tokens[client_id]

    def close(self) -> None:
        self.services.close()


def open_env(kind: str, url: str, workdir: Path, *, keyring_file: Path,
             migrate_first: bool = True) -> Env:
    if migrate_first:
        migrate.upgrade(url)
    settings = Settings(database_url=url, kek_file=str(keyring_file),
                        mailbox_file=str(workdir / "mailbox.txt"), issuer=ISSUER,
                        export_dir=str(workdir / "exports"))
    services = build_services(settings)
    ensure_signing_key(services)
    env = Env(kind=kind, url=url, workdir=workdir, settings=settings, services=services,
              keyring_file=keyring_file)
    register_clients(env)
    return env


def register_clients(env: Env) -> None:
    services = env.services
    from identity.models import Client

    with services.db.unit_of_work() as uow:
        for client_id, purposes in CLIENTS.items():
            if uow.session.get(Client, client_id) is None:
                clients.create_client(uow.session, services.hasher, client_id=client_id,
                                      name=client_id, kind="bench", role="client",
                                      purposes=purposes, known_purposes=services.policy.purposes,
                                      actor="system:bench")
        uow.commit()
    for client_id, purposes in CLIENTS.items():
        env.tokens[client_id] = services.issuer.issue(
            subject=client_id, role="client", ttl=6 * 3600, client_id=client_id,
            scopes=[purpose_scope(p) for p in purposes])[0]


def new_keyring(workdir: Path) -> Path:
    path = workdir / "keyring.json"
    if not path.exists():
        keyring = Keyring.generate()
        keyring.generated = False
        save_keyring(keyring, path)
    return path


@contextmanager
def workspace() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="membervault-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def raw_connection(engine: sa.Engine) -> Any:
    """A DB-API connection from the engine's pool (the floors use it directly)."""
    return engine.raw_connection()
