"""Issue 11, item 4, the mail relay: a server whose sign-in mail goes through a real SMTP
relay (STARTTLS, a certificate it trusts) that refuses the member's address and names it
in its answer. The member's address reaches neither the server's log nor its answers.
In-process, with a relay object: tests/membervault/test_server_log.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.relay import RelayLog, refusing_relay
from tests.attacks.server import Server, started
from tests.certificates import certificate_for
from tests.conftest import register

EMAIL = "refused.member@example.org"


@pytest.fixture(scope="module")
def relayed(tmp_path_factory: pytest.TempPathFactory,
            request: pytest.FixtureRequest) -> Iterator[tuple[Server, RelayLog]]:
    """A server of its own whose mail goes to the refusing relay."""
    workdir = tmp_path_factory.mktemp("relayed")
    certificate = certificate_for("localhost", workdir)
    with refusing_relay(certificate.server) as (port, log), started(
            workdir / "server", request, MEMBERVAULT_SMTP_HOST="localhost",
            MEMBERVAULT_SMTP_PORT=str(port),
            SSL_CERT_FILE=str(certificate.path)) as server:
        yield server, log


def test_a_relay_refusing_a_members_address_does_not_put_it_in_the_log(
        relayed: tuple[Server, RelayLog]) -> None:
    server, relay = relayed
    admin = server.api("attack-admin")
    assert register(admin, email=EMAIL)["errors"] == []
    answer = server.client().post("/auth/member/code", json={"email": EMAIL})
    assert answer.status_code == 202 and EMAIL not in answer.text
    failure = server.wait_for_record(lambda r: r["logger"] == "membervault.sign_in")
    assert relay.refused == [EMAIL], "the relay was asked, and refused"
    assert failure["level"] == "ERROR"
    assert "SMTPRecipientsRefused" in failure["message"]
    time.sleep(0.2)  # anything written after the failure's record
    log = server.log()
    for value in (EMAIL, EMAIL.split("@")[0], "Recipient address rejected", "User unknown"):
        assert value not in log, value
    assert not Path(server.mailbox).exists()  # nothing went to the development mailbox
