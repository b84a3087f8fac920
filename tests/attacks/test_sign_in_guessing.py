"""Issue 11, item 3, replayed over HTTP with the service's default limits: a new code buys
no more guesses (5 per address across its codes), one caller gets 20 wrong guesses
whatever the addresses, and a refused guess says when to try again. Each attacker comes
from its own address, through the proxy the server trusts; the window is moved with the
service's clock in-process (tests/identity/test_sign_in_limits.py)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.attacks.conftest import Enrol
from tests.attacks.server import Server, mails_to
from tests.membervault.web.support import mailed_code

PER_ADDRESS, PER_CALLER, WINDOW = 5, 20, 15 * 60


def caller(server: Server, ip: str) -> httpx.Client:
    client = server.client()
    client.headers["x-forwarded-for"] = ip
    return client


def new_code(server: Server, http: httpx.Client, email: str) -> str:
    before = mails_to(server, email)
    assert http.post("/auth/member/code", json={"email": email}).status_code == 202
    deadline = time.monotonic() + 20
    while mails_to(server, email) == before:  # mailed after the answer
        assert time.monotonic() < deadline, "no sign-in code was mailed"
        time.sleep(0.05)
    return mailed_code(server.mailbox)


def guess(http: httpx.Client, email: str, code: str) -> httpx.Response:
    return http.post("/auth/member/token", json={"email": email, "code": code})


def wrong(code: str, n: int) -> str:
    return f"{(int(code) + n) % 10**6:06d}"


def assert_wrong(response: httpx.Response) -> None:
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant"), \
        response.text


def refused(response: httpx.Response) -> dict[str, Any]:
    """A 429 that says when to try again, and nothing cached."""
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= WINDOW
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def test_asking_for_a_new_code_buys_no_more_guesses(server: Server, enrol: Enrol) -> None:
    email = enrol("erin")["email"]
    attacker = caller(server, "203.0.113.10")
    first = new_code(server, attacker, email)
    for n in range(1, PER_ADDRESS + 1):
        assert_wrong(guess(attacker, email, wrong(first, n)))
    fresh = new_code(server, attacker, email)  # codes may still be asked for ...
    assert refused(guess(attacker, email, fresh))["error"] == "slow_down"  # ... not tried
    # The address is spent for everyone, whoever asks (a denial the limits accept).
    refused(guess(caller(server, "198.51.100.99"), email, fresh))


def test_one_caller_is_limited_across_addresses_members_and_strangers_alike(
        server: Server, enrol: Enrol) -> None:
    attacker = caller(server, "203.0.113.20")
    victims = [f"victim{n}@example.org" for n in range(PER_CALLER // PER_ADDRESS)]
    for email in victims:
        for n in range(PER_ADDRESS):
            assert_wrong(guess(attacker, email, f"{n:06d}"))
    member = enrol("fay")["email"]
    to_member = guess(attacker, member, new_code(server, attacker, member))
    to_stranger = guess(attacker, "nobody.else@example.org", "123456")
    assert refused(to_member)["error"] == refused(to_stranger)["error"] == "slow_down"
    assert to_member.content == to_stranger.content
    # Another caller still signs the member in.
    neighbour = caller(server, "198.51.100.20")
    assert guess(neighbour, member, new_code(server, neighbour, member)).status_code == 200
