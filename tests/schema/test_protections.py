"""The GraphQL endpoint's protective limits: depth, aliases, size, GET, masking."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


def test_queries_via_get_are_refused(http: Any, jane_api: Api) -> None:
    response = http.get("/graphql", params={"query": "{ me { email } }"},
                        headers={"authorization": f"Bearer {jane_api.token}",
                                 "accept": "application/json"})
    assert response.status_code in (400, 405)
    assert "email" not in response.text


def test_queries_deeper_than_the_limit_are_refused(settings: Any, services: Any,
                                                   jane_api: Api) -> None:
    from starlette.testclient import TestClient

    from membervault.app import create_app

    shallow = create_app(settings.replace(max_query_depth=1), services)
    with TestClient(shallow, base_url="http://127.0.0.1:8000") as http:
        api = Api(http, jane_api.token)
        assert api.graphql("{ me { email } }")["data"]["me"]["email"]
        result = api.graphql("{ me { postalAddress { lines } } }")
    assert result.get("data") is None
    assert "exceeds maximum operation depth" in result["errors"][0]["message"]


def test_alias_flooding_is_refused(jane_api: Api) -> None:
    aliases = " ".join(f"a{i}: me {{ email }}" for i in range(50))
    result = jane_api.graphql("{ " + aliases + " }")
    assert result.get("data") is None
    assert "aliases" in result["errors"][0]["message"].lower()


def test_token_flooding_is_refused(jane_api: Api) -> None:
    fields = " ".join("__typename" for _ in range(3000))
    result = jane_api.graphql("{ " + fields + " }")
    assert result.get("data") is None
    assert "token" in result["errors"][0]["message"].lower()


def test_oversized_bodies_get_413_and_nothing_runs(http: Any, jane_api: Api) -> None:
    big = "{ me { email } }" + " " * (300 * 1024)
    response = http.post("/graphql", json={"query": big},
                         headers={"authorization": f"Bearer {jane_api.token}"})
    assert response.status_code == 413
    assert response.json() == {"error": "request_too_large"}


def test_every_response_carries_a_request_id(http: Any) -> None:
    response = http.get("/healthz")
    assert len(response.headers["x-request-id"]) >= 8
    echoed = http.get("/healthz", headers={"x-request-id": "trace-abc-123"})
    assert echoed.headers["x-request-id"] == "trace-abc-123"
    hostile = http.get("/healthz", headers={"x-request-id": "<script>"})
    assert hostile.headers["x-request-id"] != "<script>"


def test_health_and_readiness(http: Any) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}


def test_readiness_fails_when_the_database_is_gone(http: Any, services: Any) -> None:
    from sqlalchemy import create_engine

    real = services.db.engine
    services.db.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                       connect_args={"connect_timeout": 1})
    try:
        response = http.get("/readyz")
    finally:
        services.db.engine.dispose()
        services.db.engine = real
    assert response.status_code == 503
    assert response.json() == {"status": "database_unreachable"}


def test_validation_is_cached_across_requests(jane_api: Api) -> None:
    from strawberry.extensions.validation_cache import _get_validate_cache

    cache = _get_validate_cache(256)
    jane_api.graphql("{ me { memberNumber } }")
    hits = cache.cache_info().hits
    jane_api.graphql("{ me { memberNumber } }")
    assert cache.cache_info().hits == hits + 1


def test_input_errors_never_echo_the_values_sent(loyalty_api: Api) -> None:
    from tests.conftest import JANE

    query = "mutation($input: RegisterMemberInput!) { registerMember(input: $input) { errors { code } } }"
    cases = [
        ({**JANE, "ssn": "123-45-6789"}, "unknown field 'ssn'"),
        ({**JANE, "email": 4155550123}, "cannot represent a non string value"),
        ({**JANE, "postalAddress": {"lines": ["1 Secret Row"], "locality": "Hiddenham",
                                    "country": "GB", "zz": 1}}, "unknown field 'zz'"),
    ]
    for variables, expected in cases:
        message = loyalty_api.graphql(query, {"input": variables})["errors"][0]["message"]
        assert expected in message
        for value in ("Janelle", "janelle.qv@example.org", "123-45-6789", "4155550123",
                      "Secret Row", "Hiddenham"):
            assert value not in message
    inline = loyalty_api.graphql(
        'mutation { registerMember(input: {givenName: 5, familyName: "Zedekiah", email: "z@x.org"}) '
        "{ errors { code } } }")
    assert "Zedekiah" not in str(inline["errors"])
