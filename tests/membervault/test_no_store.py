"""No answer that may hold personal data or a secret can be kept by a browser or a proxy:
every route answers ``Cache-Control: no-store`` unless it chose a caching policy itself
(only the public key set does)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api, client_token, create_principal


def no_store(response: Any) -> bool:
    return bool(response.headers.get("cache-control") == "no-store")


def test_graphql_answers_with_personal_data_are_not_stored(jane_api: Api,
                                                          jane: dict[str, Any]) -> None:
    response = jane_api.http.post("/graphql", json={"query": "{ me { email } }"},
                                  headers={"authorization": f"Bearer {jane_api.token}"})
    assert response.json()["data"]["me"]["email"] == jane["email"]
    assert no_store(response), response.headers
    assert response.headers["pragma"] == "no-cache"


@pytest.mark.parametrize(("method", "path", "body", "headers"), [
    ("POST", "/graphql", {"query": "{ me { email } }"}, {}),  # anonymous: an error answer
    ("POST", "/graphql", {"query": "{ nope }"}, {}),  # invalid document
    ("POST", "/graphql", {"query": "{ me { email } }"}, {"authorization": "Bearer x"}),  # 401
    ("POST", "/auth/member/code", {"email": "someone@example.org"}, {}),
    ("POST", "/auth/member/token", {"email": "someone@example.org", "code": "123456"}, {}),
    ("POST", "/oauth/token", None, {}),
    ("GET", "/exports/not-a-token", None, {}),
    ("GET", "/audience/marketing.email.ndjson", None, {}),
    ("GET", "/healthz", None, {}),
    ("GET", "/no-such-route", None, {}),
])
def test_every_other_answer_is_not_stored_either(http: TestClient, method: str, path: str,
                                                 body: Any, headers: dict[str, str]) -> None:
    response = http.request(method, path, json=body, headers=headers)
    assert no_store(response), (response.status_code, response.headers)


def test_an_oversized_body_is_refused_without_caching(http: TestClient) -> None:
    response = http.post("/graphql", content=b"x" * (300 * 1024),
                         headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert no_store(response)


def test_the_audience_stream_is_not_stored(http: TestClient, services: Any) -> None:
    secret = create_principal(services, "email-marketing", purposes=("marketing.email",))
    token = client_token(http, "email-marketing", secret)
    response = http.get("/audience/marketing.email.ndjson",
                        headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert no_store(response)


def test_the_public_key_set_keeps_its_own_caching(http: TestClient) -> None:
    response = http.get("/.well-known/jwks.json")
    assert response.headers["cache-control"] == "public, max-age=300"
    assert "pragma" not in response.headers
