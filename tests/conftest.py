"""Fixtures: a real database (SQLite file, or PostgreSQL with MEMBERVAULT_TEST_DATABASE=
postgresql), real keys, the real ASGI app, and principals named by role."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from identity import clients
from identity.keyring import Keyring, save_keyring
from membervault import migrate
from membervault.app import create_app
from membervault.models import Base
from membervault.services import Services, build_services, ensure_signing_key
from vaultkernel.clock import OffsetClock
from vaultkernel.database import create_db_engine
from vaultkernel.logs import configure_logging
from vaultkernel.settings import Settings

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKEND = os.environ.get("MEMBERVAULT_TEST_DATABASE", "sqlite")
ISSUER = "http://127.0.0.1:8000"
HTTPS_ISSUER = "https://members.example.com"


def pytest_report_header(config: pytest.Config) -> str:
    return f"membervault test database: {BACKEND}"


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped at the end."""
    base = os.environ.get("MEMBERVAULT_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    admin = create_db_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        admin.dispose()
        message = f"PostgreSQL is not reachable at {base}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (required under CI=true)")
        pytest.skip(f"{message}; set MEMBERVAULT_TEST_POSTGRES_URL to run these tests")
    name = f"mv_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """An empty database named ``<prefix>_<random>`` on the server, dropped afterwards."""
    admin = create_db_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(server_url).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """The database schema, built once by the real migrations."""
    if BACKEND == "postgresql":
        url: str = request.getfixturevalue("postgres_server_url")
        migrate.upgrade(url)
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> str:
    if BACKEND == "postgresql":
        engine = create_db_engine(migrated_template)
        with engine.begin() as connection:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return migrated_template
    path = tmp_path / "membervault.db"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def keyring_file(tmp_path: Path) -> Path:
    path = tmp_path / "keyring.json"
    keyring = Keyring.generate()
    keyring.generated = False
    save_keyring(keyring, path)
    return path


@pytest.fixture
def no_settings_file_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``load_settings`` reads ./membervault.toml when present: work in an empty directory."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)


def production_env(keyring_file: Path, **extra: str) -> dict[str, str]:
    """The environment of a valid production configuration."""
    return {"MEMBERVAULT_MODE": "production", "MEMBERVAULT_ISSUER": HTTPS_ISSUER,
            "MEMBERVAULT_SMTP_HOST": "smtp.example.com",
            "MEMBERVAULT_KEK_FILE": str(keyring_file), **extra}


@pytest.fixture
def settings(database_url: str, keyring_file: Path, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, kek_file=str(keyring_file),
                    mailbox_file=str(tmp_path / "mailbox.txt"), issuer=ISSUER,
                    export_dir=str(tmp_path / "exports"))


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    # The wall clock, but one a test can move forward instead of sleeping.
    services = build_services(settings, clock=OffsetClock())
    ensure_signing_key(services)
    yield services
    services.close()


@pytest.fixture
def app(settings: Settings, services: Services) -> Any:
    return create_app(settings, services)


@pytest.fixture
def http(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client


class ServerLog:
    """What the service writes to its log stream, configured as ``serve`` configures it."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """The JSON records (with the json format), one per line."""
        return [json.loads(line) for line in self.text().splitlines()]


@pytest.fixture
def server_log() -> Iterator[Callable[[str], ServerLog]]:
    """``server_log("json")`` (or ``"console"``) routes every logger to a fresh stream in
    that format, at DEBUG, until the test ends."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def configure(log_format: str) -> ServerLog:
        log = ServerLog()
        configure_logging(logging.DEBUG, log_format=log_format, stream=log.stream)
        return log

    yield configure
    root.handlers[:] = handlers
    root.setLevel(level)


class Api:
    """Talks to the running app like a caller would: tokens from the token endpoint."""

    def __init__(self, http: httpx.Client, token: str | None = None):
        self.http = http
        self.token = token

    def graphql(self, query: str, variables: dict[str, Any] | None = None,
                **headers: str) -> dict[str, Any]:
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        response = self.http.post("/graphql", json={"query": query, "variables": variables or {}},
                                  headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


def create_principal(services: Services, client_id: str, role: str = "client",
                     purposes: tuple[str, ...] = (), collects_consent: bool = False) -> str:
    """Register a principal (or, if it exists, give it a new secret); returns the secret."""
    from identity.models import Client

    with services.db.unit_of_work() as uow:
        if uow.session.get(Client, client_id) is not None:
            secret = clients.reset_secret(uow.session, services.hasher, client_id, actor="test")
            uow.commit()
            return secret
        secret = clients.create_client(
            uow.session, services.hasher, client_id=client_id, name=client_id, kind=role,
            role=role, purposes=purposes, known_purposes=services.policy.purposes, actor="test",
            collects_consent=collects_consent)
        uow.commit()
    return secret


def client_token(http: httpx.Client, client_id: str, secret: str, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    response = http.post("/oauth/token", data=data, auth=(client_id, secret))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def member_token(http: httpx.Client, mailbox: Path, email: str) -> str:
    response = http.post("/auth/member/code", json={"email": email})
    assert response.status_code == 202
    code = mailbox.read_text().rsplit("Your sign-in code is ", 1)[1][:6]
    response = http.post("/auth/member/token", json={"email": email, "code": code})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def admin_api(http: TestClient, services: Services) -> Api:
    secret = create_principal(services, "test-admin", "admin")
    return Api(http, client_token(http, "test-admin", secret))


@pytest.fixture
def loyalty_api(http: TestClient, services: Services) -> Api:
    secret = create_principal(services, "loyalty-engine", purposes=("loyalty.membership",))
    return Api(http, client_token(http, "loyalty-engine", secret))


@pytest.fixture
def marketing_api(http: TestClient, services: Services) -> Api:
    secret = create_principal(services, "email-marketing", purposes=("marketing.email",))
    return Api(http, client_token(http, "email-marketing", secret))


REGISTER = """
mutation Register($input: RegisterMemberInput!) {
  registerMember(input: $input) {
    memberNumber
    member { id memberNumber givenName familyName email phone birthdate
             postalAddress { lines locality postalCode country } preferredLanguage preferences }
    memberData { memberNumber givenName familyName email phone birthdate
                 postalAddress { lines locality postalCode country } preferredLanguage
                 preferences denied { field reason } }
    errors { field code message }
  }
}
"""

JANE = {
    "givenName": "Janelle",
    "familyName": "Quasimodo-Varga",
    "email": "janelle.qv@example.org",
    "phone": "07911 123456",
    "birthdate": "1990-02-03",
    "postalAddress": {"lines": ["12 Rosewood Lane"], "locality": "Bristol",
                      "postalCode": "BS1 4DJ", "country": "GB"},
    "preferredLanguage": "en-GB",
    "preferences": {"topics": ["garden"]},
}


def register(api: Api, **overrides: Any) -> dict[str, Any]:
    """Register through the API. A client gets ``memberData`` (what its purpose covers);
    for the tests' convenience ``member`` is then filled from it plus the internal id,
    which only the database knows."""
    result = api.graphql(REGISTER, {"input": {**JANE, **overrides}})
    payload: dict[str, Any] = result["data"]["registerMember"]
    if payload["member"] is None and payload["memberData"] is not None:
        data = {k: v for k, v in payload["memberData"].items() if k != "denied"}
        payload["member"] = {**data, "id": str(_internal_id(api, payload["memberNumber"]))}
    return payload


def _internal_id(api: Api, number: str) -> Any:
    from identity import members

    services: Services = api.http.app.state.services  # type: ignore[attr-defined]
    with services.db.unit_of_work() as uow:
        return members.id_by_number(uow, services.crypto, number)


@pytest.fixture
def jane(loyalty_api: Api) -> dict[str, Any]:
    payload = register(loyalty_api)
    assert payload["errors"] == []
    member: dict[str, Any] = payload["member"]
    return member


@pytest.fixture
def jane_api(http: TestClient, settings: Settings, jane: dict[str, Any]) -> Api:
    return Api(http, member_token(http, Path(settings.mailbox_file), jane["email"]))
