"""Issue 11, item 4, replayed over HTTP: a caller cannot forge a line of the server's log,
error messages never echo what was sent, a stranger gets no schema hints, and no member's
address reaches the log (the server fixture checks the whole log when it stops; this
module checks it after its own attempts). In-process: tests/membervault/test_server_log.py,
tests/schema/test_protections.py."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.attacks.conftest import Enrol, SignIn
from tests.attacks.server import Server
from tests.conftest import JANE, Api

FORGED = "2026-01-01 00:00:00,000 INFO membervault.http GET /healthz 200"
REGISTER = ("mutation($input: RegisterMemberInput!) { registerMember(input: $input) "
            "{ errors { code } } }")


def messages(result: dict[str, Any]) -> str:
    return " | ".join(e["message"] for e in result["errors"])


def test_an_encoded_newline_in_the_path_cannot_forge_a_log_line(server: Server) -> None:
    http = server.client()
    assert http.get("/graphql%0D%0A" + FORGED.replace(" ", "%20")).status_code == 404
    assert http.get("/healthz%0A{\"level\":\"INFO\"}").status_code == 404
    server.wait_for_record(lambda r: r.get("path", "").startswith("/healthz%0A"))
    banner = [line for line in server.log().splitlines() if not line.startswith("{")]
    assert all(line.startswith(("membervault serving on", "privacy centre:",
                                "officer console:"))
               for line in banner), banner
    records = server.records()  # every other line is one JSON object
    paths = [r["path"] for r in records if r["logger"] == "membervault.http"]
    assert "/graphql%0D%0A2026-01-01%2000:00:00,000%20INFO%20membervault.http%20GET%20" \
           "/healthz%20200" in paths
    assert "/healthz%0A%7B%22level%22:%22INFO%22%7D" in paths or any(
        p.startswith("/healthz%0A") for p in paths), paths
    assert not any(r.get("time", "").startswith("2026-01-01T00:00:00") for r in records)


def test_errors_never_echo_the_values_sent(officer: Api, loyalty: Api) -> None:
    email = "Sender.Of.Input@Example.ORG"
    cases: list[tuple[Api, str, dict[str, Any] | None, str]] = [
        (officer, "query($s: DeliveryState) { deliveries(state: $s) { nextCursor } }",
         {"s": email}, "does not exist in 'DeliveryState' enum"),
        (officer, "query($a: DateTime) { accessLog(filter: {since: $a}) { nextCursor } }",
         {"a": email}, "cannot represent a DateTime"),
        # an unknown input field, the address in upper and lower case around it
        (loyalty, REGISTER, {"input": {**JANE, "email": email, "EMAIL": email.upper()}},
         "unknown field 'EMAIL'"),
        (loyalty, f'{{ "{email}" }}', None, "Syntax Error"),
    ]
    for api, document, variables, expected in cases:
        text = messages(api.graphql(document, variables))
        assert expected in text, text
        for value in (email, email.lower(), email.upper(), "Sender.Of", str(JANE["givenName"])):
            assert value not in text, (document, text)


def test_a_stranger_gets_no_suggestions_a_signed_in_member_does(
        server: Server, enrol: Enrol, member_api: SignIn) -> None:
    stranger = Api(server.client())
    for document in ("{ me { emial } }", "{ mee { email } }",
                     "{ deliveries(state: PENDNG) { nextCursor } }"):
        text = messages(stranger.graphql(document))
        assert "Did you mean" not in text and "PENDING" not in text, text
    member = member_api(enrol("gus")["email"])
    assert "Did you mean 'email'?" in messages(member.graphql("{ me { emial } }"))


def test_a_members_address_never_reaches_the_log(server: Server, enrol: Enrol,
                                                 member_api: SignIn, loyalty: Api) -> None:
    """Registration, a duplicate, bad input, sign-in (a wrong code, an address that is no
    member's), a read and a correction, then the whole log is searched."""
    member = enrol("hal")
    email = member["email"]
    duplicate = loyalty.graphql(REGISTER, {"input": {**JANE, "email": email}})
    assert duplicate["data"]["registerMember"]["errors"][0]["code"] == "DUPLICATE_EMAIL"
    loyalty.graphql(REGISTER, {"input": {**JANE, "email": f"not-an-address {email}"}})
    http = server.client()
    http.post("/auth/member/token", json={"email": email, "code": "000000"})
    http.post("/auth/member/code", json={"email": f"never.{email}"})
    me = member_api(email)
    assert me.graphql("{ me { email } }")["data"]["me"]["email"] == email
    me.graphql("mutation($i: UpdateProfileInput!) { updateMyProfile(input: $i) { errors "
               "{ code } } }", {"i": {"email": f"new.{email}"}})
    log = server.log()
    for value in (email, email.split("@")[0], f"never.{email}", f"new.{email}",
                  member["memberNumber"]):
        assert value not in log, value
    assert all(json.loads(line) for line in log.splitlines() if line.startswith("{"))


def test_a_request_carries_its_id_to_the_log_and_never_its_query(server: Server) -> None:
    response = httpx.get(f"{server.base}/healthz?email=query.string@example.org",
                         headers={"x-request-id": "attack-rid-1"})
    assert response.headers["x-request-id"] == "attack-rid-1"
    record = server.wait_for_record(lambda r: r.get("requestId") == "attack-rid-1")
    assert (record["method"], record["path"], record["status"]) == ("GET", "/healthz", 200)
    assert "query.string" not in server.log()
