"""Passwordless member sign-in, through the real HTTP routes: one-time codes by mail.

``POST /auth/member/code`` mails a code (to the mailbox file in development) and
``POST /auth/member/token`` exchanges it for a member access token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from identity.models import SignInCode
from membervault.models import Base
from membervault.services import Services
from subject_requests.erasure import erase_pending
from tests.conftest import Api
from tests.retention.support import open_erasure
from vaultkernel.clock import utcnow
from vaultkernel.settings import Settings

CODE = re.compile(r"Your sign-in code is (\d{6})\b")
ME = "{ me { id email memberNumber } }"
STRANGER = "nobody.here@example.org"


def mailbox(settings: Settings) -> Path:
    return Path(settings.mailbox_file)


def mailed_codes(settings: Settings) -> list[str]:
    path = mailbox(settings)
    return CODE.findall(path.read_text()) if path.exists() else []


def request_code(http: TestClient, email: str) -> Any:
    return http.post("/auth/member/code", json={"email": email})


def exchange(http: TestClient, email: str, code: str) -> Any:
    return http.post("/auth/member/token", json={"email": email, "code": code})


def new_code(http: TestClient, settings: Settings, email: str) -> str:
    before = len(mailed_codes(settings))
    response = request_code(http, email)
    assert response.status_code == 202, response.text
    codes = mailed_codes(settings)
    assert len(codes) == before + 1, "exactly one new code should have been mailed"
    return codes[-1]


def wrong(code: str) -> str:
    """A well-formed code that is certainly not ``code``."""
    return f"{(int(code) + 1) % 10**6:06d}"


def assert_invalid_grant(response: Any) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    assert response.headers["cache-control"] == "no-store"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return decoded


def sign_in_rows(services: Services) -> list[dict[str, Any]]:
    with services.db.engine.connect() as connection:
        return [dict(row._mapping) for row in
                connection.execute(sa.select(SignInCode.__table__))]


# -- the happy path ---------------------------------------------------------------------


def test_mailed_code_exchanges_for_a_member_token_that_reads_me(
        http: TestClient, settings: Settings, jane: dict[str, Any]) -> None:
    response = request_code(http, jane["email"])
    assert response.status_code == 202
    assert response.headers["cache-control"] == "no-store"
    mail = mailbox(settings).read_text()
    assert f"To: {jane['email']}" in mail
    assert "Subject: Your membervault sign-in code" in mail
    [code] = mailed_codes(settings)

    response = exchange(http, jane["email"], code)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"  # noqa: S105  (not a secret)
    assert body["expires_in"] == settings.member_token_ttl

    me = Api(http, body["access_token"]).graphql(ME)
    assert "errors" not in me, me
    assert me["data"]["me"] == {"id": jane["id"], "email": jane["email"],
                                "memberNumber": jane["memberNumber"]}


def test_email_is_normalised_on_request_and_on_exchange(
        http: TestClient, settings: Settings, jane: dict[str, Any]) -> None:
    code = new_code(http, settings, "  JANELLE.QV@Example.ORG ")
    assert f"To: {jane['email']}\n" in mailbox(settings).read_text()
    response = exchange(http, "Janelle.QV@EXAMPLE.org", code)
    assert response.status_code == 200, response.text


def test_member_token_has_the_member_role_and_the_member_id_as_subject(
        http: TestClient, settings: Settings, services: Services, jane: dict[str, Any]) -> None:
    code = new_code(http, settings, jane["email"])
    token = exchange(http, jane["email"], code).json()["access_token"]

    claims = claims_of(token)
    assert claims["roles"] == ["member"]
    assert claims["sub"] == jane["id"]
    assert claims["iss"] == settings.issuer
    assert claims["aud"] == settings.audience
    assert claims["exp"] - claims["iat"] == settings.member_token_ttl
    assert jane["email"] not in token and jane["email"] not in json.dumps(claims)

    principal = services.verifier.verify(token)  # and it verifies against our own keys
    assert principal.role == "member"
    assert str(principal.member_id) == jane["id"]


# -- codes are single-use, expire and allow a few attempts ------------------------------


def test_a_code_is_single_use(http: TestClient, settings: Settings,
                              jane: dict[str, Any]) -> None:
    code = new_code(http, settings, jane["email"])
    assert exchange(http, jane["email"], code).status_code == 200
    assert_invalid_grant(exchange(http, jane["email"], code))


def test_an_expired_code_fails(http: TestClient, settings: Settings, services: Services,
                               jane: dict[str, Any]) -> None:
    code = new_code(http, settings, jane["email"])
    with services.db.engine.begin() as connection:
        changed = connection.execute(
            sa.update(SignInCode.__table__).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        assert changed.rowcount == 1
    assert_invalid_grant(exchange(http, jane["email"], code))


def test_a_code_still_works_just_before_it_expires(http: TestClient, settings: Settings,
                                                   services: Services,
                                                   jane: dict[str, Any]) -> None:
    code = new_code(http, settings, jane["email"])
    with services.db.engine.begin() as connection:
        connection.execute(sa.update(SignInCode.__table__).values(
            expires_at=utcnow() + dt.timedelta(seconds=30)))
    assert exchange(http, jane["email"], code).status_code == 200


def test_codes_expire_after_the_configured_ttl(http: TestClient, settings: Settings,
                                               services: Services, jane: dict[str, Any]) -> None:
    before = utcnow()
    new_code(http, settings, jane["email"])
    [row] = sign_in_rows(services)
    expires_at = row["expires_at"]
    if expires_at.tzinfo is None:  # SQLite hands back naive UTC text
        expires_at = expires_at.replace(tzinfo=dt.UTC)
    ttl = dt.timedelta(seconds=settings.otp_ttl)
    assert before + ttl <= expires_at <= utcnow() + ttl


def test_after_max_attempts_the_right_code_no_longer_works(
        http: TestClient, settings: Settings, jane: dict[str, Any]) -> None:
    assert settings.otp_max_attempts == 5
    code = new_code(http, settings, jane["email"])
    guesses = [f"{(int(code) + n) % 1000000:06d}" for n in range(1, 6)]
    assert code not in guesses
    for guess in guesses:
        assert_invalid_grant(exchange(http, jane["email"], guess))
    refused = exchange(http, jane["email"], code)  # not even checked: the address is spent
    assert refused.status_code == 429 and refused.json()["error"] == "slow_down"
    assert 1 <= int(refused.headers["retry-after"]) <= 15 * 60


def test_malformed_codes_spend_no_guess(http: TestClient, settings: Settings,
                                        jane: dict[str, Any]) -> None:
    code = new_code(http, settings, jane["email"])
    for malformed in ["abcdef", "12345", "1234567", "１２３４５６"] * 3:
        assert_invalid_grant(exchange(http, jane["email"], malformed))
    assert exchange(http, jane["email"], code).status_code == 200


def test_the_right_code_works_after_fewer_wrong_guesses_than_the_limit(
        http: TestClient, settings: Settings, jane: dict[str, Any]) -> None:
    code = new_code(http, settings, jane["email"])
    for _ in range(settings.otp_max_attempts - 1):
        assert_invalid_grant(exchange(http, jane["email"], wrong(code)))
    assert exchange(http, jane["email"], code).status_code == 200


def test_a_newer_code_spends_older_ones_on_success(http: TestClient, settings: Settings,
                                                   jane: dict[str, Any]) -> None:
    older = new_code(http, settings, jane["email"])
    newer = new_code(http, settings, jane["email"])
    assert exchange(http, jane["email"], newer).status_code == 200
    assert_invalid_grant(exchange(http, jane["email"], older))
    assert_invalid_grant(exchange(http, jane["email"], newer))


def test_using_an_older_open_code_spends_the_newer_one(http: TestClient, settings: Settings,
                                                       jane: dict[str, Any]) -> None:
    older = new_code(http, settings, jane["email"])
    newer = new_code(http, settings, jane["email"])
    if older == newer:  # one chance in a million
        pytest.skip("the two random codes happen to be equal")
    assert exchange(http, jane["email"], older).status_code == 200
    assert_invalid_grant(exchange(http, jane["email"], newer))


def test_a_code_belongs_to_its_email(http: TestClient, settings: Settings,
                                     loyalty_api: Api, jane: dict[str, Any]) -> None:
    from tests.conftest import register

    other = register(loyalty_api, email="other.member@example.org", phone="07400 123457")
    assert other["errors"] == []
    code = new_code(http, settings, jane["email"])
    assert_invalid_grant(exchange(http, "other.member@example.org", code))
    assert_invalid_grant(exchange(http, STRANGER, code))
    assert exchange(http, jane["email"], code).status_code == 200


def test_exchange_for_an_unregistered_or_invalid_email_fails_like_a_wrong_code(
        http: TestClient) -> None:
    assert_invalid_grant(exchange(http, STRANGER, "123456"))
    assert_invalid_grant(exchange(http, "not-an-email", "123456"))


# -- no enumeration: registered and unregistered addresses look alike --------------------


def test_unregistered_email_gets_the_same_answer_and_no_mail(
        http: TestClient, settings: Settings, services: Services,
        jane: dict[str, Any]) -> None:
    unregistered = request_code(http, STRANGER)
    assert not mailbox(settings).exists(), "no mail may be written for an unregistered email"
    registered = request_code(http, jane["email"])
    assert mailbox(settings).exists()
    invalid = request_code(http, "not-an-email")

    for other in (registered, invalid):
        assert other.status_code == unregistered.status_code == 202
        assert other.content == unregistered.content  # byte-identical body
        assert other.json() == unregistered.json()
        assert ({k: v for k, v in other.headers.items() if k != "x-request-id"}
                == {k: v for k, v in unregistered.headers.items() if k != "x-request-id"})
    assert unregistered.json()["status"] == "sent_if_registered"
    assert STRANGER not in mailbox(settings).read_text()
    assert len(mailed_codes(settings)) == 1
    # the same work was done for both: one stored (hashed) code each
    assert len(sign_in_rows(services)) == 2


@pytest.mark.parametrize("registered", [True, False], ids=["registered", "unregistered"])
def test_rate_limit_answers_slow_down_alike(http: TestClient, settings: Settings,
                                            jane: dict[str, Any], registered: bool) -> None:
    email = jane["email"] if registered else STRANGER
    for _ in range(settings.otp_max_per_window):
        assert request_code(http, email).status_code == 202
    limited = request_code(http, email)
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"] == "slow_down"
    assert limited.headers["cache-control"] == "no-store"
    assert 1 <= int(limited.headers["retry-after"]) <= 15 * 60  # when the oldest code ages out
    # differently written, the same address shares the limit
    assert request_code(http, email.upper()).status_code == 429
    assert len(mailed_codes(settings)) == (settings.otp_max_per_window if registered else 0)
    # other addresses are not affected
    assert request_code(http, "someone.else@example.org").status_code == 202


def test_rate_limited_answers_are_identical_for_registered_and_unregistered(
        http: TestClient, settings: Settings, jane: dict[str, Any]) -> None:
    answers = {}
    for email in (jane["email"], STRANGER):
        for _ in range(settings.otp_max_per_window):
            request_code(http, email)
        answers[email] = request_code(http, email)
    a, b = answers.values()
    assert a.status_code == b.status_code == 429
    assert a.content == b.content


# -- malformed requests -----------------------------------------------------------------

BAD_CODE_REQUESTS: list[tuple[bytes, str]] = [
    (b"email=jane@example.org", "application/x-www-form-urlencoded"),
    (b"not json", "application/json"),
    (b"", "application/json"),
    (b"\xff\xfe", "application/json"),
    (b'"jane@example.org"', "application/json"),
    (b'["jane@example.org"]', "application/json"),
    (b"{}", "application/json"),
    (b'{"email": "janelle.qv@example.org", "extra": 1}', "application/json"),
    (b'{"email": "janelle.qv@example.org", "code": "123456"}', "application/json"),
    (b'{"email": 42}', "application/json"),
    (b'{"email": null}', "application/json"),
    (b'{"email": ["janelle.qv@example.org"]}', "application/json"),
    (b'{"mail": "janelle.qv@example.org"}', "application/json"),
]

BAD_TOKEN_REQUESTS: list[tuple[bytes, str]] = [
    (b"email=janelle.qv@example.org&code=123456", "application/x-www-form-urlencoded"),
    (b"{", "application/json"),
    (b"null", "application/json"),
    (b'{"email": "janelle.qv@example.org"}', "application/json"),
    (b'{"code": "123456"}', "application/json"),
    (b'{"email": "janelle.qv@example.org", "code": "123456", "scope": "x"}',
     "application/json"),
    (b'{"email": "janelle.qv@example.org", "code": 123456}', "application/json"),
    (b'{"email": "janelle.qv@example.org", "code": null}', "application/json"),
    (b'{"email": ["janelle.qv@example.org"], "code": "123456"}', "application/json"),
    (b'{"email": {"a": 1}, "code": "123456"}', "application/json"),
]


@pytest.mark.parametrize(("body", "content_type"), BAD_CODE_REQUESTS)
def test_malformed_code_requests_are_invalid_request(
        http: TestClient, settings: Settings, jane: dict[str, Any], body: bytes,
        content_type: str) -> None:
    response = http.post("/auth/member/code", content=body,
                         headers={"content-type": content_type})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert not mailbox(settings).exists()


@pytest.mark.parametrize(("body", "content_type"), BAD_TOKEN_REQUESTS)
def test_malformed_token_requests_are_invalid_request(
        http: TestClient, settings: Settings, jane: dict[str, Any], body: bytes,
        content_type: str) -> None:
    code = new_code(http, settings, jane["email"])
    response = http.post("/auth/member/token", content=body.replace(b"123456", code.encode()),
                         headers={"content-type": content_type})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    # a malformed request is not an attempt: the code still works
    assert exchange(http, jane["email"], code).status_code == 200


def test_sign_in_routes_accept_only_post(http: TestClient) -> None:
    assert http.get("/auth/member/code").status_code == 405
    assert http.get("/auth/member/token").status_code == 405


# -- what is stored and what is logged --------------------------------------------------


def test_codes_are_stored_only_as_keyed_hashes(http: TestClient, settings: Settings,
                                               services: Services,
                                               jane: dict[str, Any]) -> None:
    codes = [new_code(http, settings, jane["email"]) for _ in range(2)]
    request_code(http, STRANGER)
    rows = sign_in_rows(services)
    assert len(rows) == 3
    secrets_ = [*codes, jane["email"], jane["email"].upper(), STRANGER]
    for row in rows:
        for column, value in row.items():
            if isinstance(value, bytes):
                for secret in secrets_:
                    assert secret.encode() not in value, column
                    assert secret.encode("utf-16-le") not in value, column
            else:
                for secret in secrets_:
                    assert secret not in str(value), column

    index = services.crypto.index.digest("email", jane["email"])
    key = services.keyring.derive("sign-in-code")
    stored = {row["code_hash"] for row in rows if row["email_index"] == index}
    assert len(stored) == 2
    for code in codes:
        assert hashlib.sha256(code.encode()).digest() not in stored  # not an unkeyed hash
        assert hashlib.sha256(index + code.encode()).digest() not in stored
        assert hmac.new(key, index + code.encode(), hashlib.sha256).digest() in stored
    assert all(len(row["code_hash"]) == 32 and len(row["email_index"]) == 32 for row in rows)


def test_the_development_mailer_logs_the_mailbox_file_but_never_the_address(
        http: TestClient, settings: Settings, jane: dict[str, Any],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    code = new_code(http, settings, jane["email"])
    request_code(http, STRANGER)
    exchange(http, jane["email"], code)

    mailer_lines = [r.getMessage() for r in caplog.records if r.name == "membervault.mailer"]
    assert len(mailer_lines) == 1
    assert settings.mailbox_file in mailer_lines[0]
    everything = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for value in (jane["email"], jane["email"].split("@")[0], STRANGER, code):
        assert value not in everything


def test_more_codes_do_not_buy_more_guesses(http: TestClient, settings: Settings,
                                            jane: dict[str, Any]) -> None:
    """Wrong guesses count against the address, across all its codes."""
    email = jane["email"]
    for _ in range(3):
        assert http.post("/auth/member/code", json={"email": email}).status_code == 202
    codes = [part[:6] for part in
             Path(settings.mailbox_file).read_text().split("Your sign-in code is ")[1:]]
    wrong = next(c for c in (f"{n:06d}" for n in range(1000000)) if c not in codes)
    for _ in range(settings.otp_max_attempts):
        response = http.post("/auth/member/token", json={"email": email, "code": wrong})
        assert response.json()["error"] == "invalid_grant"
    for code in codes:
        response = http.post("/auth/member/token", json={"email": email, "code": code})
        assert response.status_code == 429, "a code still worked after the guess budget"


# -- an erased address ------------------------------------------------------------------


def holders_of(services: Services, value: bytes) -> list[str]:
    """Every table.column of the database holding ``value`` (binary columns, whole or in
    part)."""
    found = []
    with services.db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)).mappings():
                found += [f"{table.name}.{column}" for column, cell in row.items()
                          if isinstance(cell, bytes) and value in cell]
    return found


def test_a_code_request_for_an_erased_address_never_stores_its_blind_index_again(
        http: TestClient, settings: Settings, services: Services,
        jane: dict[str, Any]) -> None:
    index = services.crypto.index.digest("email", jane["email"])
    new_code(http, settings, jane["email"])
    assert set(holders_of(services, index)) == {"members.email_index",
                                                "sign_in_codes.email_index"}
    open_erasure(services, jane["id"])
    assert erase_pending(services.db, services.erasure_kit, now=utcnow()) == 1
    assert holders_of(services, index) == []

    # Someone asks for codes for the erased address: answered as for anyone, stored, and
    # rate limited, but never under the blind index.
    for _ in range(settings.otp_max_per_window):
        assert request_code(http, jane["email"]).status_code == 202
    assert request_code(http, jane["email"].upper()).status_code == 429
    assert len(sign_in_rows(services)) == settings.otp_max_per_window
    assert holders_of(services, index) == []
    # Nor do guesses for it (counted against the limits all the same).
    response = http.post("/auth/member/token", json={"email": jane["email"], "code": "000000"})
    assert response.status_code == 400
    assert holders_of(services, index) == []
    assert mailed_codes(settings) == []  # the one mailed before was purged by the erasure
