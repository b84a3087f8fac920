"""The GraphQL endpoint's protective limits: depth, aliases, size, GET, masking."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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


def test_parsing_and_validation_are_cached_across_requests(app: Any, jane_api: Api) -> None:
    from starlette.routing import Route

    view = next(r.endpoint for r in app.routes if isinstance(r, Route) and r.path == "/graphql")
    cache = view.schema.guard.prepared
    jane_api.graphql("{ me { memberNumber } }")
    info = cache.cache_info()
    jane_api.graphql("{ me { memberNumber } }")
    assert cache.cache_info().hits == info.hits + 1
    assert cache.cache_info().misses == info.misses


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


EMAIL = "janelle.qv@example.org"
REGISTER_ERRORS = ("mutation($input: RegisterMemberInput!) { registerMember(input: $input) "
                   "{ errors { code } } }")
DELIVERIES = "query($s: DeliveryState) { deliveries(state: $s, first: 5) { nextCursor } }"
SINCE = "query($a: DateTime) { accessLog(filter: {since: $a}, first: 5) { nextCursor } }"


def messages(result: dict[str, Any]) -> str:
    return " | ".join(e["message"] for e in result["errors"])


def test_enum_datetime_syntax_and_misspelt_field_errors_never_echo_the_value(
        loyalty_api: Api, officer_api: Api) -> None:
    from tests.conftest import JANE

    cases: list[tuple[Api, str, dict[str, Any] | None, str]] = [
        (officer_api, DELIVERIES, {"s": EMAIL}, "does not exist in 'DeliveryState' enum"),
        (officer_api, "{ deliveries(state: JANELLEQV, first: 5) { nextCursor } }", None,
         "does not exist in 'DeliveryState' enum"),
        (officer_api, SINCE, {"a": EMAIL}, "cannot represent a DateTime."),
        (officer_api, f'{{ accessLog(filter: {{since: "{EMAIL}"}}, first: 5) {{ nextCursor }} }}',
         None, "cannot represent a DateTime."),
        # a misspelt field brings a suggestion, and graphql-core then writes "Found:"
        (loyalty_api, REGISTER_ERRORS, {"input": {**JANE, "emial": EMAIL}},
         "unknown field 'emial'. Did you mean 'email'?"),
        (loyalty_api, 'mutation { registerMember(input: {givenName: "Janelle", familyName: '
         f'"Quasimodo-Varga", email: "{EMAIL}", emial: "{EMAIL}"}}) {{ errors {{ code }} }} }}',
         None, "unknown field 'emial'"),
        (loyalty_api, f'{{ "{EMAIL}" }}', None, "Syntax Error: Expected Name."),
        (loyalty_api, f'{{ me {{ email }} }} query {{ me(x: "{EMAIL}") }}', None, ""),
    ]
    for api, document, variables, expected in cases:
        text = messages(api.graphql(document, variables))
        assert expected in text, text
        for value in (EMAIL, "janelle", "JANELLEQV", "Janelle", "Quasimodo"):
            assert value not in text, (document, text)


@pytest.fixture
def officer_api(http: Any, services: Any) -> Api:
    from tests.conftest import client_token, create_principal

    secret = create_principal(services, "test-officer", "officer")
    return Api(http, client_token(http, "test-officer", secret))


@pytest.fixture
def production_http(settings: Any, services: Any) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from membervault.app import create_app

    app = create_app(settings.replace(mode="production"), services)
    with TestClient(app, base_url="http://127.0.0.1:8000") as http:
        yield http


MISSPELT = ["{ me { emial } }", "{ mee { email } }",
            "{ deliveries(state: PENDNG, first: 5) { nextCursor } }"]


def test_anonymous_callers_get_no_suggestions_in_production(production_http: Any) -> None:
    for document in MISSPELT:
        text = messages(Api(production_http).graphql(document))
        assert "Did you mean" not in text and "email" not in text.replace("emial", "")
        assert "PENDING" not in text and "'me'" not in text
        assert text.endswith("."), text


def test_signed_in_callers_and_development_keep_suggestions(production_http: Any,
                                                            jane_api: Api, http: Any) -> None:
    signed_in = Api(production_http, jane_api.token)
    assert "Did you mean 'email'?" in messages(signed_in.graphql(MISSPELT[0]))
    assert "Did you mean 'email'?" in messages(Api(http).graphql(MISSPELT[0]))


def test_a_strangers_question_leaves_the_hints_of_a_member_asking_the_same(
        production_http: Any, jane_api: Api) -> None:
    """Validation results are cached per document: hiding the hints from a stranger must
    not take them from the next signed-in caller who sends the same document."""
    signed_in = Api(production_http, jane_api.token)
    for _ in range(2):
        assert "Did you mean" not in messages(Api(production_http).graphql(MISSPELT[0]))
        assert "Did you mean 'email'?" in messages(signed_in.graphql(MISSPELT[0]))
