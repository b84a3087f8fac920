"""Guessing sign-in codes (identity.sign_in_limits), through the real routes: wrong codes
are counted per address across its codes, per caller (client IP) and overall, in a
15-minute window that the tests move with the service's clock instead of sleeping; a 429
says when to try again (``Retry-After``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from identity.models import SignInGuess
from membervault import worker
from membervault.services import Services
from retention import shredding
from vaultkernel.clock import OffsetClock
from vaultkernel.settings import Settings

CODE = re.compile(r"Your sign-in code is (\d{6})\b")
WINDOW = dt.timedelta(minutes=15)
PER_ADDRESS, PER_CALLER, OVERALL = 3, 5, 8
STRANGER = "nobody.here@example.org"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, otp_max_attempts=PER_ADDRESS,
                               otp_max_guesses_per_caller=PER_CALLER,
                               otp_max_guesses_global=OVERALL)


@pytest.fixture
def caller(app: Any) -> Iterator[Callable[[str], TestClient]]:
    """``caller("203.0.113.7")``: a client of the app from that IP address."""
    clients: list[TestClient] = []

    def make(ip: str) -> TestClient:
        client = TestClient(app, base_url="http://127.0.0.1:8000", client=(ip, 40000))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def clock_of(services: Services) -> OffsetClock:
    assert isinstance(services.clock, OffsetClock)
    return services.clock


def new_code(http: TestClient, settings: Settings, email: str) -> str:
    assert http.post("/auth/member/code", json={"email": email}).status_code == 202
    return CODE.findall(Path(settings.mailbox_file).read_text())[-1]


def wrong(code: str, n: int = 1) -> str:
    return f"{(int(code) + n) % 10**6:06d}"


def guess(http: TestClient, email: str, code: str) -> Any:
    return http.post("/auth/member/token", json={"email": email, "code": code})


def assert_wrong(response: Any) -> None:
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant", \
        response.text


def retry_after(response: Any) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "slow_down"
    assert response.headers["cache-control"] == "no-store"
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= WINDOW.total_seconds()
    return seconds


def guesses(services: Services) -> list[dict[str, Any]]:
    with services.db.engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.select(SignInGuess.__table__))]


def test_asking_for_a_new_code_grants_no_more_guesses(
        http: TestClient, settings: Settings, services: Services, jane: dict[str, Any]) -> None:
    email = jane["email"]
    first = new_code(http, settings, email)
    for n in range(1, PER_ADDRESS + 1):
        assert_wrong(guess(http, email, wrong(first, n)))
    fresh = new_code(http, settings, email)  # codes may still be asked for ...
    wait = retry_after(guess(http, email, fresh))  # ... but not tried, not even the right one
    assert retry_after(guess(http, email, wrong(fresh))) <= wait

    clock_of(services).advance(dt.timedelta(seconds=wait))  # the oldest wrong guess left
    assert guess(http, email, new_code(http, settings, email)).status_code == 200


def test_retry_after_is_when_the_oldest_counted_guess_leaves_the_window(
        http: TestClient, services: Services) -> None:
    clock = clock_of(services)
    assert_wrong(guess(http, STRANGER, "000001"))
    clock.advance(dt.timedelta(minutes=10))
    for code in ("000002", "000003"):
        assert_wrong(guess(http, STRANGER, code))
    wait = retry_after(guess(http, STRANGER, "000004"))
    assert 5 * 60 - 5 <= wait <= 5 * 60  # the first guess counts for 5 more minutes
    clock.advance(dt.timedelta(seconds=wait - 2))
    retry_after(guess(http, STRANGER, "000005"))  # refused guesses are not counted ...
    clock.advance(dt.timedelta(seconds=2))
    assert_wrong(guess(http, STRANGER, "000006"))  # ... so one slot is free again
    retry_after(guess(http, STRANGER, "000007"))


def test_members_and_strangers_are_limited_alike(caller: Callable[[str], TestClient],
                                                 jane: dict[str, Any]) -> None:
    answers = {}
    for n, email in enumerate((jane["email"], STRANGER)):
        http = caller(f"203.0.113.{n}")
        for m in range(PER_ADDRESS):
            assert_wrong(guess(http, email, f"{m:06d}"))
        answers[email] = guess(http, email, "999999")
    member, stranger = answers.values()
    assert member.status_code == stranger.status_code == 429
    assert member.content == stranger.content


def test_a_caller_is_limited_across_addresses(caller: Callable[[str], TestClient]) -> None:
    attacker, neighbour = caller("203.0.113.7"), caller("198.51.100.20")
    for n in range(PER_CALLER):
        assert_wrong(guess(attacker, f"victim{n}@example.org", "123456"))
    retry_after(guess(attacker, "victim-next@example.org", "123456"))
    assert_wrong(guess(neighbour, "victim-next@example.org", "123456"))


def test_the_service_is_limited_overall(caller: Callable[[str], TestClient], settings: Settings,
                                        jane: dict[str, Any]) -> None:
    for n in range(OVERALL):
        assert_wrong(guess(caller(f"203.0.113.{n}"), f"victim{n}@example.org", "123456"))
    newcomer = caller("192.0.2.1")
    code = new_code(newcomer, settings, jane["email"])
    retry_after(guess(newcomer, jane["email"], code))


def test_right_codes_and_malformed_codes_do_not_count(
        http: TestClient, settings: Settings, services: Services, jane: dict[str, Any]) -> None:
    email = jane["email"]
    for _ in range(PER_CALLER + 1):  # more sign-ins than the caller may make wrong guesses
        assert guess(http, email, new_code(http, settings, email)).status_code == 200
        clock_of(services).advance(dt.timedelta(minutes=4))  # within the code request limit
    for malformed in ("12345", "abcdef", "１２３４５６") * 3:
        assert_wrong(guess(http, email, malformed))
    assert guesses(services) == []


def test_a_caller_is_stored_as_a_keyed_hash_and_guesses_leave_with_the_window(
        caller: Callable[[str], TestClient], services: Services) -> None:
    for n in range(2):
        assert_wrong(guess(caller("203.0.113.99"), STRANGER, f"{n:06d}"))
    rows = guesses(services)
    assert len(rows) == 2 and len({r["caller"] for r in rows}) == 1
    for row in rows:
        assert b"203.0.113.99" not in row["caller"] and len(row["caller"]) == 16
    later = clock_of(services).advance(WINDOW)
    assert worker.run_once(services, now=lambda: later)["expired_sign_in_guesses"] == 2
    assert guesses(services) == []


def test_erasure_takes_the_members_guesses_with_it(http: TestClient, services: Services,
                                                   jane: dict[str, Any]) -> None:
    assert_wrong(guess(http, jane["email"], "000000"))
    assert_wrong(guess(http, STRANGER, "000000"))
    with services.db.unit_of_work() as uow:
        shredding.erase_members(uow.session, services.erasure_kit, [uuid.UUID(jane["id"])],
                                now=services.clock.now(),
                                cause=shredding.ErasureCause.rule("inactive_members"))
        uow.commit()
    # The stranger's guess is kept under the separate keyed hash, never a blind index.
    stranger = hmac.new(services.keyring.derive("sign-in-stranger"), STRANGER.encode(),
                        hashlib.sha256).digest()
    assert [r["email_index"] for r in guesses(services)] == [stranger]
