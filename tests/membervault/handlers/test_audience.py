"""The streamed audience export (GET /audience/{purpose}.ndjson): the same members, rules
and access log as the GraphQL ``audience`` field, as NDJSON."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from audit.access_log import AccessLogUnavailable
from audit.verification import verify
from bench.asgi import http_scope
from consent import ledger
from identity.models import Client
from membervault.handlers import audience as audience_export
from tests.audit.support import Logged, entries, logged
from tests.conftest import Api, client_token, create_principal, register
from tests.consent.support import grant, new_member, withdraw
from vaultkernel.settings import Settings

URL = "/audience/marketing.email.ndjson"
PRINCIPAL = "client:email-marketing"


@pytest.fixture
def people(loyalty_api: Api, http: TestClient, settings: Settings,
           services: Any) -> dict[str, dict[str, Any]]:
    """ann and dee consent to email marketing, bob never did, cy withdrew, eve consented
    but restricted processing."""
    result = {}
    for n, name in enumerate(["ann", "bob", "cy", "dee", "eve"]):
        api, profile = new_member(loyalty_api, http, settings, name, n)
        result[name] = profile
        if name != "bob":
            grant(api, "marketing.email")
        if name == "cy":
            withdraw(api, "marketing.email")
    with services.db.unit_of_work() as uow:
        ledger.set_restriction(uow.session, services.policy, _id(result["eve"]), restricted=True)
        uow.commit()
    return result


def _id(profile: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(profile["id"])


def export(http: TestClient, token: str | None, url: str = URL) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return http.get(url, headers=headers)


def lines(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [orjson.loads(line) for line in response.content.splitlines()]


def log_of(services: Any) -> list[Logged]:
    """The members the export's reader was logged reading, one item per member."""
    return logged(services, PRINCIPAL)


def token_of(marketing_api: Api) -> str:
    assert marketing_api.token
    return marketing_api.token


def test_exports_exactly_the_members_the_purpose_permits(
        people: dict[str, dict[str, Any]], marketing_api: Api, http: TestClient) -> None:
    got = lines(export(http, token_of(marketing_api)))
    assert sorted(line["email"] for line in got) == ["ann@example.org", "dee@example.org"]
    ann = next(line for line in got if line["email"] == "ann@example.org")
    # every field the purpose covers, under its GraphQL name, and nothing else
    assert ann == {"givenName": "Ann", "familyName": people["ann"]["familyName"],
                   "email": "ann@example.org",
                   "preferredLanguage": people["ann"]["preferredLanguage"]}


def test_the_same_members_as_the_graphql_audience(
        people: dict[str, dict[str, Any]], marketing_api: Api, http: TestClient) -> None:
    query = """query { audience(purpose: "marketing.email", first: 1000) {
      items { email givenName } } }"""
    typed = marketing_api.graphql(query)["data"]["audience"]["items"]
    streamed = lines(export(http, token_of(marketing_api), URL + "?fields=email,givenName"))
    assert streamed == typed


def test_every_member_sent_is_logged(people: dict[str, dict[str, Any]], marketing_api: Api,
                                     http: TestClient, services: Any) -> None:
    response = export(http, token_of(marketing_api))
    got = lines(response)
    reads = log_of(services)
    assert sorted(str(r.member_id) for r in reads) == sorted(
        people[n]["id"] for n in ("ann", "dee"))
    assert len(reads) == len(got)
    for read in reads:
        assert read.purpose == "marketing.email"
        assert read.fields_returned == ["email", "family_name", "given_name",
                                        "preferred_language"]
        assert read.fields_denied == {}
    (entry,) = entries(services, PRINCIPAL)  # one page, one entry
    assert entry.request_id == response.headers["x-request-id"]
    with services.db.unit_of_work() as uow:
        assert verify(uow.session).ok


def test_pages_are_logged_one_batch_each(loyalty_api: Api, http: TestClient,
                                         settings: Settings, services: Any,
                                         marketing_api: Api,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audience_export, "PAGE", 2)
    for n in range(5):
        api, _ = new_member(loyalty_api, http, settings, f"page{n}", 10 + n)
        grant(api, "marketing.email")
    got = lines(export(http, token_of(marketing_api), URL + "?fields=email"))
    assert sorted(line["email"] for line in got) == [f"page{n}@example.org" for n in range(5)]
    assert len(log_of(services)) == 5
    assert [e.members for e in entries(services, PRINCIPAL)] == [2, 2, 1]


def test_fields_must_belong_to_the_purpose(people: dict[str, dict[str, Any]],
                                           marketing_api: Api, http: TestClient,
                                           services: Any) -> None:
    token = token_of(marketing_api)
    only_email = lines(export(http, token, URL + "?fields=email"))
    assert sorted(only_email, key=lambda line: line["email"]) == [
        {"email": "ann@example.org"}, {"email": "dee@example.org"}]
    outside = export(http, token, URL + "?fields=email,phone")
    assert outside.status_code == 403
    assert outside.json()["error"] == "CATEGORY_NOT_IN_PURPOSE"
    unknown = export(http, token, URL + "?fields=shoeSize")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "INVALID_FIELDS"
    before = len(log_of(services))
    export(http, token, URL + "?fields=phone")
    assert len(log_of(services)) == before  # refused: nothing read, nothing logged


def test_needs_a_client_token(people: dict[str, dict[str, Any]], http: TestClient,
                              jane_api: Api, services: Any) -> None:
    missing = export(http, None)
    assert missing.status_code == 401
    assert "Bearer" in missing.headers["www-authenticate"]
    assert export(http, "not-a-token").status_code == 401
    member = export(http, jane_api.token)
    assert member.status_code == 403
    assert member.json()["error"] == "FORBIDDEN"
    secret = create_principal(services, "export-officer", role="officer")
    officer = export(http, client_token(http, "export-officer", secret))
    assert officer.status_code == 403
    assert log_of(services) == []


def test_purpose_must_be_declared_by_the_token_and_the_registration(
        people: dict[str, dict[str, Any]], http: TestClient, services: Any,
        loyalty_api: Api, marketing_api: Api) -> None:
    # a client whose registration and token do not include the purpose
    refused = export(http, loyalty_api.token)
    assert refused.status_code == 403
    assert refused.json()["error"] == "PURPOSE_NOT_PERMITTED"
    unknown = export(http, token_of(marketing_api), "/audience/no.such.purpose.ndjson")
    assert unknown.status_code == 403
    # the registration narrowed after the token was issued
    with services.db.unit_of_work() as uow:
        uow.session.execute(update(Client).where(Client.client_id == "email-marketing")
                            .values(allowed_purposes=[]))
        uow.commit()
    services.clock.advance(services.registrations.ttl)  # as another process changed it
    narrowed = export(http, token_of(marketing_api))
    assert narrowed.status_code == 403
    assert narrowed.json()["error"] == "PURPOSE_NOT_PERMITTED"
    assert log_of(services) == []


def test_no_answer_without_the_access_log(people: dict[str, dict[str, Any]],
                                          marketing_api: Api, http: TestClient, services: Any,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise AccessLogUnavailable("test")

    monkeypatch.setattr(services.access_log, "append", broken)
    response = export(http, token_of(marketing_api))
    assert response.status_code == 503
    assert response.json()["error"] == "ACCESS_LOG_UNAVAILABLE"
    assert b"@example.org" not in response.content


def test_a_later_page_that_cannot_be_logged_ends_the_stream(
        people: dict[str, dict[str, Any]], marketing_api: Api, http: TestClient,
        services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audience_export, "PAGE", 1)
    real = services.access_log.append
    calls = []

    def second_fails(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) > 1:
            raise AccessLogUnavailable("test")
        real(*args, **kwargs)

    monkeypatch.setattr(services.access_log, "append", second_fails)
    got = lines(export(http, token_of(marketing_api)))
    assert len(got) == 2
    assert "email" in got[0]
    assert got[1]["error"]["code"] == "ACCESS_LOG_UNAVAILABLE"
    assert len(log_of(services)) == 1  # only what was sent


def _leave_after_first_chunk(app: Any, token: str) -> list[bytes]:
    """GET the export as uvicorn calls the app (ASGI 2.3: a departure is a ``receive``
    message) and leave while the first chunk is being sent; returns what was sent."""
    scope = http_scope("GET", URL, {"authorization": f"Bearer {token}"})
    chunks: list[bytes] = []

    async def call() -> None:
        gone = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                chunks.append(message["body"])
                # A slow network: a next page read meanwhile (ahead) would be logged now.
                await asyncio.sleep(0.2)
                gone.set()

        await app(scope, receive, send)

    asyncio.run(call())
    return chunks


def test_a_client_that_leaves_mid_stream_is_logged_for_the_pages_sent_only(
        people: dict[str, dict[str, Any]], marketing_api: Api, app: Any, services: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No page is read (and logged) ahead of the one being sent: a client gone after the
    first of two pages leaves one entry, naming the one member it was sent."""
    monkeypatch.setattr(audience_export, "PAGE", 1)
    chunks = _leave_after_first_chunk(app, token_of(marketing_api))
    assert len(chunks) == 1
    (line,) = [orjson.loads(line) for line in chunks[0].splitlines()]
    (read,) = log_of(services)
    assert read.member_id == next(_id(p) for p in people.values() if p["email"] == line["email"])
    assert [e.members for e in entries(services, PRINCIPAL)] == [1]
    assert services.db.engine.pool.checkedout() == 0  # the export's connection went back


def test_nested_keys_are_spelled_as_in_graphql(loyalty_api: Api, http: TestClient,
                                               services: Any) -> None:
    """An address streams as GraphQL's ``PostalAddress`` (``postalCode``, not the stored
    ``postal_code``); docs/api.md tells consumers of the older spelling."""
    register(loyalty_api)
    secret = create_principal(services, "analytics-job", purposes=("analytics.segmentation",))
    token = client_token(http, "analytics-job", secret)
    query = """query Segment { audience(purpose: "analytics.segmentation", first: 10) {
      items { memberNumber birthdate postalAddress { lines locality region postalCode country } }
    } }"""
    typed = Api(http, token).graphql(query)["data"]["audience"]["items"]
    streamed = lines(export(http, token, "/audience/analytics.segmentation.ndjson"))
    assert streamed == typed
    assert streamed[0]["postalAddress"]["postalCode"] == "BS1 4DJ"
