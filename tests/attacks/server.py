"""A real membervault server for the attack replays: ``membervault serve`` under uvicorn in
a subprocess, on a free port, with its own database of the backend under test, its own
keyring, mailbox and export directory, and its log captured in a file."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from identity.keyring import Keyring, save_keyring
from membervault import migrate
from membervault.services import build_services, ensure_signing_key
from tests.conftest import BACKEND, Api, client_token, create_principal, fresh_postgres_database
from tests.membervault.web.support import mailed_code
from vaultkernel.settings import Settings

BIN = Path(sys.executable).parent / "membervault"
START_LIMIT = 60.0  # seconds a server may take to answer /readyz on a loaded machine

# Who the replays act as: principal id -> (role, purposes, collects consent).
PRINCIPALS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "attack-admin": ("admin", (), False),
    "attack-officer": ("officer", (), False),
    "loyalty-engine": ("client", ("loyalty.membership",), False),
    "email-marketing": ("client", ("marketing.email",), False),
    "partner-brand": ("client", ("partners.sharing",), False),
    "store-counter": ("client", ("marketing.email", "rewards.birthday"), True),
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def clean_environment() -> dict[str, str]:
    """The process environment without any MEMBERVAULT_ setting of the test run."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MEMBERVAULT_")}


@dataclass
class Server:
    """A running server, the settings it was started with and what it wrote."""

    base: str
    workdir: Path
    database_url: str
    env: dict[str, str]
    log_file: Path
    secrets: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    @property
    def mailbox(self) -> Path:
        return Path(self.env["MEMBERVAULT_MAILBOX_FILE"])

    @property
    def settings(self) -> Settings:
        return Settings(database_url=self.database_url, kek_file=self.env["MEMBERVAULT_KEK_FILE"],
                        mailbox_file=str(self.mailbox), issuer=self.base,
                        export_dir=self.env["MEMBERVAULT_EXPORT_DIR"])

    def client(self) -> httpx.Client:
        """An HTTP client of the server, closed when the server stops."""
        self.clients.append(httpx.Client(base_url=self.base, timeout=60, follow_redirects=False))
        return self.clients[-1]

    def api(self, principal: str, scope: str | None = None) -> Api:
        """A principal of :data:`PRINCIPALS`, with a token from the token endpoint."""
        http = self.client()
        return Api(http, client_token(http, principal, self.secrets[principal], scope))

    def log(self) -> str:
        """Everything the server has written to its standard output and error so far."""
        return self.log_file.read_text(errors="replace")

    def records(self) -> list[dict[str, Any]]:
        """The server log's JSON records (lines that are not JSON are the CLI's banner)."""
        found = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                found.append(json.loads(line))
        return found

    def wait_for_record(self, wanted: Any) -> dict[str, Any]:
        """The first log record ``wanted(record)`` accepts; a request's record is written
        when its answer has been sent, so it may be a moment later than the answer."""
        deadline = time.monotonic() + 10
        while True:
            found = [r for r in self.records() if wanted(r)]
            if found:
                return found[0]
            assert time.monotonic() < deadline, "no such record in the server log"
            time.sleep(0.05)

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """A ``membervault`` command with the server's settings (``env`` overrides them)."""
        return subprocess.run([str(BIN), *args], cwd=self.workdir, env={**self.env, **env},
                              capture_output=True, text=True, timeout=180, check=False)

    def worker_once(self, **env: str) -> str:
        """One pass of the background worker, as ``membervault worker --once``."""
        done = self.cli("worker", "--once", **env)
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr


@contextmanager
def server_database(workdir: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database of the backend under test, for one server alone."""
    workdir.mkdir(parents=True, exist_ok=True)
    if BACKEND == "postgresql":
        with fresh_postgres_database(request.getfixturevalue("postgres_server_url"),
                                     "mv_attack") as url:
            migrate.upgrade(url)
            yield url
        return
    path = workdir / "membervault.db"
    shutil.copy(request.getfixturevalue("migrated_template"), path)
    os.chmod(path, 0o600)
    yield f"sqlite:///{path}"


def prepare(workdir: Path, database_url: str, **env: str) -> Server:
    """Keys, principals and settings of a server that is not started yet."""
    workdir.mkdir(parents=True, exist_ok=True)
    keyring_file = workdir / "keyring.json"
    keyring = Keyring.generate()
    keyring.generated = False
    save_keyring(keyring, keyring_file)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_env = {
        **clean_environment(),
        "MEMBERVAULT_DATABASE_URL": database_url,
        "MEMBERVAULT_KEK_FILE": str(keyring_file),
        "MEMBERVAULT_MAILBOX_FILE": str(workdir / "var" / "mailbox.txt"),
        "MEMBERVAULT_EXPORT_DIR": str(workdir / "var" / "exports"),
        "MEMBERVAULT_ISSUER": base,
        "MEMBERVAULT_PORT": str(port),
        "MEMBERVAULT_LOG_FORMAT": "json",
        **env,
    }
    server = Server(base=base, workdir=workdir, database_url=database_url, env=server_env,
                    log_file=workdir / "server.log")
    services = build_services(server.settings)
    try:
        ensure_signing_key(services)
        for principal, (role, purposes, collects) in PRINCIPALS.items():
            server.secrets[principal] = create_principal(
                services, principal, role, purposes, collects_consent=collects)
    finally:
        services.close()
    return server


@contextmanager
def running(server: Server) -> Iterator[Server]:
    """``membervault serve`` until the block ends; fails if it does not become ready."""
    with ExitStack() as stack:
        log = stack.enter_context(server.log_file.open("ab"))
        process = subprocess.Popen([str(BIN), "serve"], cwd=server.workdir, env=server.env,
                                   stdout=log, stderr=subprocess.STDOUT)
        server.process = process
        try:
            wait_until_ready(server)
            yield server
        finally:
            for client in server.clients:
                client.close()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + START_LIMIT
    while True:
        assert server.process is not None
        if server.process.poll() is not None:
            raise AssertionError(f"the server stopped at start: {server.log()}")
        try:
            if httpx.get(f"{server.base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not become ready: {server.log()}")
        time.sleep(0.2)


@contextmanager
def started(workdir: Path, request: pytest.FixtureRequest, **env: str) -> Iterator[Server]:
    """A prepared server on its own database, running until the block ends."""
    with server_database(workdir, request) as url, running(prepare(workdir, url, **env)) as s:
        yield s


def sign_in(server: Server, email: str) -> Api:
    """A member's sign-in as a caller does it: ask for a code, read it from the development
    mailbox once the server has mailed it (after its answer), exchange it for a token."""
    http = server.client()
    before = mails_to(server, email)
    asked = http.post("/auth/member/code", json={"email": email})
    assert asked.status_code == 202, asked.text
    deadline = time.monotonic() + 20
    while mails_to(server, email) == before:
        assert time.monotonic() < deadline, "no sign-in code was mailed"
        time.sleep(0.05)
    token = http.post("/auth/member/token", json={"email": email,
                                                  "code": mailed_code(server.mailbox)})
    assert token.status_code == 200, token.text
    return Api(http, str(token.json()["access_token"]))


def mails_to(server: Server, email: str) -> int:
    if not server.mailbox.is_file():
        return 0
    return server.mailbox.read_text().count(f"To: {email}")
