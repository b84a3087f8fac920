"""The service log through the real app: one structured record per request, nothing a
caller sends can break a line, and a mail relay's refusal never writes the address."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from membervault.app import create_app
from membervault.services import build_services, ensure_signing_key
from tests.conftest import JANE, Api, ServerLog, client_token, create_principal, register
from vaultkernel.clock import OffsetClock
from vaultkernel.settings import Settings

RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")
FORGED_PATH = "/graphql%0D%0A2026-01-01 00:00:00,000 INFO membervault.http GET /healthz 200"


class RefusingRelay:
    """A mail relay that refuses every recipient, naming it, as SMTP relays do."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def send(self, to: str, subject: str, body: str) -> None:
        self.refused.append(to)
        raise smtplib.SMTPRecipientsRefused(
            {to: (550, f"5.1.1 <{to}>: Recipient address rejected".encode())})


@pytest.fixture
def relay() -> RefusingRelay:
    return RefusingRelay()


@pytest.fixture
def refusing_http(settings: Settings, relay: RefusingRelay) -> Iterator[TestClient]:
    services = build_services(settings, mailer=relay, clock=OffsetClock())
    ensure_signing_key(services)
    with TestClient(create_app(settings, services), base_url="http://127.0.0.1:8000") as http:
        yield http


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_relay_refusing_a_members_address_does_not_put_it_in_the_log(
        refusing_http: TestClient, relay: RefusingRelay, server_log: Callable[[str], ServerLog],
        log_format: str) -> None:
    secret = create_principal(refusing_http.app.state.services,  # type: ignore[attr-defined]
                              "loyalty-engine", purposes=("loyalty.membership",))
    assert register(Api(refusing_http, client_token(refusing_http, "loyalty-engine", secret)))[
        "errors"] == []
    log = server_log(log_format)
    response = refusing_http.post("/auth/member/code", json={"email": JANE["email"]})
    assert response.status_code == 202
    assert relay.refused == [JANE["email"]], "the relay was asked and refused"
    text = log.text()
    assert "SMTPRecipientsRefused" in text
    for value in (JANE["email"], JANE["email"].split("@")[0], "Recipient address rejected"):
        assert value not in text
    if log_format == "json":
        [failure] = [r for r in log.records() if r["logger"] == "membervault.sign_in"]
        assert failure["level"] == "ERROR"


def test_each_request_is_one_structured_record(http: TestClient,
                                              server_log: Callable[[str], ServerLog]) -> None:
    log = server_log("json")
    response = http.get("/healthz", headers={"x-request-id": "trace-abc-123"})
    [record] = [r for r in log.records() if r["logger"] == "membervault.http"]
    assert record["method"] == "GET" and record["path"] == "/healthz"
    assert record["status"] == 200 and record["durationMs"] >= 0
    assert record["requestId"] == response.headers["x-request-id"] == "trace-abc-123"


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_an_encoded_newline_in_the_path_cannot_forge_a_log_line(
        http: TestClient, server_log: Callable[[str], ServerLog], log_format: str) -> None:
    log = server_log(log_format)
    assert http.get(FORGED_PATH).status_code == 404
    http.get("/healthz")
    lines = log.text().splitlines()
    if log_format == "json":
        records = log.records()  # every line is one JSON object
        paths = [r["path"] for r in records if r["logger"] == "membervault.http"]
        assert paths == ["/graphql%0D%0A2026-01-01%2000:00:00,000%20INFO%20membervault.http"
                         "%20GET%20/healthz%20200", "/healthz"]
    else:
        assert all(RECORD_START.match(line) for line in lines), lines
        assert not any(line.startswith("2026-01-01 00:00:00,000") for line in lines), lines
        requests = [line for line in lines if " INFO membervault.http " in line]
        assert len(requests) == 2 and "/graphql%0D%0A2026-01-01%2000:00:00" in requests[0]


def test_an_unexpected_error_is_logged_without_its_message(
        http: TestClient, jane_api: Api, services: Any,
        server_log: Callable[[str], ServerLog]) -> None:
    """A damaged ciphertext: the caller gets INTERNAL_ERROR, the log the type and frames."""
    from sqlalchemy import update

    from identity.models import Member

    with services.db.unit_of_work() as uow:
        uow.session.execute(update(Member).values(family_name=b"\x00" * 40))
        uow.commit()
    log = server_log("json")
    result = jane_api.graphql("{ me { familyName email } }")
    assert result["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    [error] = [r for r in log.records() if r["logger"] == "membervault.graphql"]
    assert error["level"] == "ERROR" and "TamperedCiphertext" in error["message"]
    assert JANE["email"] not in log.text() and JANE["familyName"] not in log.text()
