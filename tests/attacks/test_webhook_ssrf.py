"""Issue 11, item 2, replayed against the real command line and worker: the URL spellings
that reached the local host are refused when an operator registers them, and a URL stored
before that check (an old registration) still reaches nothing inside when the worker
delivers. Every shape, in-process: tests/outbox/test_webhook_addresses.py."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from identity.models import Client
from tests.attacks.conftest import Enrol, SignIn
from tests.attacks.server import BIN, Server
from tests.conftest import Api
from tests.consent.support import grant
from tests.outbox.support import DELIVERIES
from vaultkernel.database import create_db_engine

# Two of the issue's URLs, through the real command (each command is a process start, so
# not all of them; every shape is checked in-process): the cloud metadata address as one
# decimal number, the local host with ideographic full stops.
ISSUE_URLS = ["https://2852039166/latest/meta-data", "https://127。0。0。1/"]
INSIDE = "127.0.0.2"  # loopback, but not in the server's allowed networks (127.0.0.1/32)
INSIDE_AS_ONE_NUMBER = "2130706434"


def test_the_issues_urls_are_refused_at_registration(server: Server) -> None:
    commands = [subprocess.Popen([str(BIN), "client", "webhook", "partner-brand", "--url", url],
                                 cwd=server.workdir, env=server.env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for url in ISSUE_URLS]
    for url, command in zip(ISSUE_URLS, commands, strict=True):
        stdout, stderr = command.communicate(timeout=120)
        assert command.returncode == 1, (url, stdout, stderr)
        assert "NON_CANONICAL_ADDRESS" in stderr and "Traceback" not in stderr, (url, stderr)
        assert "whsec_" not in stdout, url  # no secret: nothing was registered
    assert webhook_of(server, "partner-brand") is None


class Listener:
    """A TCP server inside the network that counts the connections it is offered."""

    def __init__(self, host: str) -> None:
        self.socket = socket.create_server((host, 0))
        self.port = int(self.socket.getsockname()[1])
        self.connections = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.socket.close()
        self.thread.join(timeout=5)


@pytest.fixture
def inside() -> Iterator[Listener]:
    listener = Listener(INSIDE)
    yield listener
    listener.close()


def webhook_of(server: Server, client_id: str) -> str | None:
    engine = create_db_engine(server.database_url)
    try:
        with engine.connect() as connection:
            url: str | None = connection.execute(sa.select(Client.webhook_url).where(
                Client.client_id == client_id)).scalar_one()
            return url
    finally:
        engine.dispose()


def store_webhook(server: Server, client_id: str, url: str | None) -> None:
    """As if the URL had been registered before registration checked it."""
    engine = create_db_engine(server.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.update(Client).where(Client.client_id == client_id)
                               .values(webhook_url=url))
    finally:
        engine.dispose()


def test_an_old_registration_inside_the_network_reaches_nothing_at_delivery(
        server: Server, inside: Listener, enrol: Enrol, member_api: SignIn,
        officer: Api) -> None:
    registered = server.cli("client", "webhook", "partner-brand", "--url",
                            "http://127.0.0.1:9/hooks/membervault")  # allowed, with a secret
    assert registered.returncode == 0, registered.stderr
    store_webhook(server, "partner-brand",
                  f"http://{INSIDE_AS_ONE_NUMBER}:{inside.port}/hooks/membervault")
    try:
        member = enrol("dana")
        grant(member_api(member["email"]), "partners.sharing")
        server.worker_once()
    finally:
        store_webhook(server, "partner-brand", None)
    result = officer.graphql(DELIVERIES, {"client": "partner-brand", "first": 10})
    [delivery] = result["data"]["deliveries"]["items"]
    assert (delivery["state"], delivery["lastStatus"], delivery["attempts"]) == (
        "PENDING", "REFUSED_ADDRESS", 1)
    assert inside.connections == 0
