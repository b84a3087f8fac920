"""``/graphql`` executes each operation in a worker thread (membervault/handlers/graphql.py):
a request waiting for the database holds its thread, not the event loop, so the others
are still answered; the request's context (its id) goes with it into the thread."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from consent.models import Consent
from identity.models import Member
from tests.conftest import Api, register
from tests.locks import LockHolder, answered_while_waiting

GRANT = """mutation { grantConsent(purpose: "marketing.email", noticeVersion: 1) {
  consents { purpose status } errors { code } } }"""
ME = "{ me { id email } }"
MEMBER_DATA = """query($n: String!) {
  memberData(purpose: "loyalty.membership", memberNumber: $n) { email } }"""


def test_health_is_answered_while_a_graphql_write_waits_for_a_lock(
        app: Any, services: Any, settings: Any, jane: dict[str, Any], jane_api: Api) -> None:
    grant, health = answered_while_waiting(
        app, services.db.engine, LockHolder(settings.database_url),
        lambda client: client.post("/graphql", json={"query": GRANT},
                                   headers={"authorization": f"Bearer {jane_api.token}"}),
        lambda client: client.get("/healthz"))
    assert health.status_code == 200
    payload = grant.json()["data"]["grantConsent"]
    assert payload["errors"] == []
    with services.db.unit_of_work() as uow:
        assert uow.session.scalar(select(Consent.granted).where(
            Consent.member_id == uow.session.scalars(select(Member.id)).one(),
            Consent.purpose == "marketing.email")) is True


def test_health_is_answered_while_a_read_waits_to_write_its_access_log_entry(
        app: Any, services: Any, settings: Any, jane: dict[str, Any], loyalty_api: Api) -> None:
    """A read holds its thread, not the event loop, while its entry waits for the log's
    lock; once the lock is free the entry is written and the values answered."""
    read, health = answered_while_waiting(
        app, services.db.engine, LockHolder(settings.database_url, table="access_log"),
        lambda client: client.post(
            "/graphql", json={"query": MEMBER_DATA, "variables": {"n": jane["memberNumber"]}},
            headers={"authorization": f"Bearer {loyalty_api.token}"}),
        lambda client: client.get("/healthz"))
    assert health.status_code == 200
    assert read.json()["data"]["memberData"] == {"email": jane["email"]}


def test_a_masked_error_names_the_request_id_the_caller_sent(
        services: Any, jane: dict[str, Any], jane_api: Api) -> None:
    """The masking runs in the worker thread, with the request's own id."""
    with services.db.unit_of_work() as uow:
        row = uow.session.scalars(select(Member)).one()
        row.email = (row.email or b"")[:-1] + b"\x00"  # no longer decrypts
        uow.commit()
    result = jane_api.graphql(ME, **{"x-request-id": "trace-7f3a-4411"})
    error = result["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "trace-7f3a-4411"}
    assert "trace-7f3a-4411" in error["message"]


# What a POST is answered, bad inputs first: the same statuses and reasons as strawberry's
# view gave (plain text), except bodies that were a 500 before and are a 400 now.
JSON = "application/json"
TYPENAME = b'{"query": "{ __typename }"}'
REFUSED = [
    (JSON, b"{not json", "Unable to parse request body as JSON"),
    (JSON, b"", "Unable to parse request body as JSON"),
    (JSON, b'{"query": "{ __typename \xff }"}', "Unable to parse request body as JSON"),
    (JSON, b"[" * 100_000, "Unable to parse request body as JSON"),
    (JSON, b'{"variables": {}}', "No GraphQL query found in the request"),
    (JSON, b'{"query": null}', "No GraphQL query found in the request"),
    (JSON, b'{"query": ""}', "No GraphQL query found in the request"),
    *((JSON, body, f"The GraphQL operation's `{name}` must be {kind} or null, if provided.")
      for body, name, kind in [
          (b'{"query": 5}', "query", "a string"),
          (b'{"query": "{ __typename }", "variables": [1]}', "variables", "an object"),
          (b'{"query": "{ __typename }", "extensions": 3}', "extensions", "an object"),
          (b'{"query": "{ __typename }", "operationName": 5}', "operationName", "a string")]),
    (JSON, b'[{"query": "{ __typename }"}]', "Batching is not enabled"),
    (JSON, b'"{ __typename }"', "The GraphQL request must be a JSON object."),
    (JSON, b"null", "The GraphQL request must be a JSON object."),
    (JSON, b'{"query": "{ __typename }", "operationName": "Nope"}',
     'Unknown operation named "Nope".'),
    (JSON, b'{"query": "query A { __typename }", "operationName": ""}',
     'Unknown operation named "".'),
    (JSON, b'{"query": "subscription { __typename }"}',
     "subscriptions are not allowed when using POST"),
    (JSON, b'{"query": "fragment F on Query { __typename }"}',
     "Can't get GraphQL operation type"),
    ("text/plain", TYPENAME, "Unsupported content type"),
    (None, TYPENAME, "Unsupported content type"),
    ("APPLICATION/JSON", TYPENAME, "Unsupported content type"),
    ("application/graphql+json", TYPENAME, "Unsupported content type"),
    ("multipart/form-data; boundary=x", b"--x--", "Unsupported content type"),
    ("application/x-www-form-urlencoded", b"query=x", "Unsupported content type"),
]


@pytest.mark.parametrize(("content_type", "body", "reason"), REFUSED)
def test_a_post_that_asks_nothing_runnable_gets_400_with_the_reason(
        http: Any, content_type: str | None, body: bytes, reason: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = http.post("/graphql", content=body, headers=headers)
    assert (response.status_code, response.text) == (400, reason)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"


ANSWERED = [
    ("application/json; charset=utf-8", TYPENAME, {"data": {"__typename": "Query"}}),
    ("application/json;charset=UTF-8", TYPENAME, {"data": {"__typename": "Query"}}),
    ("application/jsonx", TYPENAME, {"data": {"__typename": "Query"}}),  # as before
    (JSON, '{"query": "{ __typename }"}'.encode("utf-16"), {"data": {"__typename": "Query"}}),
    (JSON, b'{"query": "{ __typename }", "variables": {"a": NaN, "b": 123456789012345678901}}',
     {"data": {"__typename": "Query"}}),
    (JSON, b'{"query": "{ __typename }", "variables": null, "extensions": null, '
           b'"operationName": null}', {"data": {"__typename": "Query"}}),
    (JSON, b'{"query": "mutation { __typename }"}', {"data": {"__typename": "Mutation"}}),
    # several named operations and no name: the first runs, as strawberry chose
    (JSON, b'{"query": "query A { a: __typename } query B { b: __typename }"}',
     {"data": {"a": "Query"}}),
    (JSON, b'{"query": "query A { a: __typename } mutation B { b: __typename }", '
           b'"operationName": "B"}', {"data": {"b": "Mutation"}}),
]


@pytest.mark.parametrize(("content_type", "body", "answer"), ANSWERED)
def test_a_post_is_answered_in_json(http: Any, content_type: str, body: bytes,
                                    answer: dict[str, Any]) -> None:
    response = http.post("/graphql", content=body, headers={"content-type": content_type})
    assert response.status_code == 200
    assert response.json() == answer
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["cache-control"] == "no-store"


ANSWERED_WITH_ERRORS = [
    ("{ __typename ", "Syntax Error: Expected Name."),
    ("{ __typename } { __typename }",
     "This anonymous operation must be the only defined operation."),
    ("query($a: Int!) { __typename }", "Variable '$a' is never used."),
    ("{ __typename @defer }", "Unknown directive '@defer'."),
]


@pytest.mark.parametrize(("query", "message"), ANSWERED_WITH_ERRORS)
def test_documents_that_do_not_parse_or_validate_are_answered_with_errors(
        http: Any, query: str, message: str) -> None:
    response = http.post("/graphql", json={"query": query})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None and body["errors"][0]["message"] == message


def test_values_are_sent_in_utf8(http: Any, loyalty_api: Api) -> None:
    payload = register(loyalty_api, givenName="Zoë", familyName="Łukasiewicz")
    assert payload["errors"] == []
    response = http.post("/graphql", json={"query": REGISTERED, "variables": {
        "n": payload["member"]["memberNumber"]}},
        headers={"authorization": f"Bearer {loyalty_api.token}"})
    assert "Zoë".encode() in response.content and b"\\u" not in response.content
    assert response.json()["data"]["memberData"]["givenName"] == "Zoë"


REGISTERED = """query($n: String!) { memberData(purpose: "loyalty.membership", memberNumber: $n)
  { givenName } }"""


REFUSED_GET = [
    ({"query": "{ __typename }"}, {"accept": JSON}, "queries are not allowed when using GET"),
    ({"query": "{ __typename }"}, {"accept": "text/html"},
     "queries are not allowed when using GET"),
    ({"query": "mutation { __typename }"}, {"accept": JSON},
     "mutations are not allowed when using GET"),
    ({}, {"accept": JSON}, "No GraphQL query found in the request"),
    ({"query": "{ __typename }", "variables": "{bad"}, {"accept": JSON},
     "Unable to parse request body as JSON"),
    ({"query": "{ __typename }", "operationName": "Nope"}, {"accept": JSON},
     'Unknown operation named "Nope".'),
]


@pytest.mark.parametrize(("params", "headers", "reason"), REFUSED_GET)
def test_operations_via_get_are_refused_with_the_reason(
        http: Any, params: dict[str, str], headers: dict[str, str], reason: str) -> None:
    response = http.get("/graphql", params=params, headers=headers)
    assert (response.status_code, response.text) == (400, reason)


def test_other_methods_are_refused(http: Any) -> None:
    assert http.head("/graphql").status_code == 405
    put = http.put("/graphql", content=TYPENAME, headers={"content-type": JSON})
    assert (put.status_code, put.text) == (405, "Method Not Allowed")


def test_graphiql_is_the_page_a_browser_gets_in_development(http: Any) -> None:
    for headers in ({"accept": "text/html"}, {}):
        page = http.get("/graphql", headers=headers)
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
