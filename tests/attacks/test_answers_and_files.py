"""Issue 11, item 5, replayed against the running server: answers that carry personal data
(and every other answer but the public keys) say ``Cache-Control: no-store``, and the
files the server creates are its own alone. The header on every route in-process:
tests/membervault/test_no_store.py; the modes under several umasks:
tests/vaultkernel/test_private_files.py."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx

from tests.attacks.conftest import Enrol, SignIn
from tests.attacks.server import Server
from tests.conftest import Api
from tests.consent.support import MEMBER_DATA


def assert_not_stored(response: httpx.Response) -> None:
    assert response.headers.get("cache-control") == "no-store", (
        response.request.url, response.headers)
    assert response.headers.get("pragma") == "no-cache"


def test_answers_with_personal_data_are_not_stored(server: Server, enrol: Enrol,
                                                   member_api: SignIn, loyalty: Api) -> None:
    member = enrol("ivy")
    me = member_api(member["email"])
    answer = me.http.post("/graphql", json={"query": "{ me { email } }"},
                          headers={"authorization": f"Bearer {me.token}"})
    assert answer.json()["data"]["me"]["email"] == member["email"]
    assert_not_stored(answer)
    read = loyalty.http.post("/graphql", headers={"authorization": f"Bearer {loyalty.token}"},
                             json={"query": MEMBER_DATA, "variables": {
                                 "purpose": "loyalty.membership",
                                 "number": member["memberNumber"]}})
    assert read.json()["data"]["memberData"]["email"] == member["email"]
    assert_not_stored(read)
    http = server.client()
    for response in (
            http.post("/graphql", json={"query": "{ me { email } }"}),
            http.post("/auth/member/code", json={"email": member["email"]}),
            http.post("/auth/member/token", json={"email": member["email"], "code": "x"}),
            http.post("/oauth/token", data={"grant_type": "client_credentials"}),
            http.get("/exports/not-a-token"),
            http.get("/privacy/"),
            http.get("/no-such-route")):
        assert_not_stored(response)
    keys = http.get("/.well-known/jwks.json")
    assert keys.headers["cache-control"] == "public, max-age=300"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_files_the_server_writes_are_private(server: Server, enrol: Enrol,
                                                 member_api: SignIn) -> None:
    member_api(enrol("jon")["email"])  # the mailbox exists once a code was mailed
    assert mode(server.mailbox) == 0o600
    if server.database_url.startswith("sqlite"):
        database = Path(server.database_url.removeprefix("sqlite:///"))
        for path in (database, database.with_name(database.name + "-wal")):
            assert mode(path) == 0o600, path
