"""The app (membervault.app.create_app) in each mode: GraphiQL and introspection are off in
production unless enabled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.testclient import TestClient

from membervault.app import create_app
from membervault.services import build_services, ensure_signing_key
from tests.conftest import Api, client_token, create_principal, production_env
from tests.consent.support import change, new_member
from vaultkernel.database import Database, create_db_engine
from vaultkernel.settings import Settings, load_settings

INTROSPECTION = "{ __schema { types { name } } }"

pytestmark = pytest.mark.usefixtures("no_settings_file_in_cwd")


@pytest.fixture
def app_for(database_url: str, keyring_file: Path,
            tmp_path: Path) -> Iterator[Any]:
    clients: list[TestClient] = []

    def build(mode: str, **extra: str) -> TestClient:
        env = {"MEMBERVAULT_DATABASE_URL": database_url,
               "MEMBERVAULT_MAILBOX_FILE": str(tmp_path / "mailbox.txt"),
               "MEMBERVAULT_KEK_FILE": str(keyring_file), **extra}
        if mode == "production":
            env = {**production_env(keyring_file), **env}
        client = TestClient(create_app(load_settings(env)), base_url="http://127.0.0.1:8000")
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def graphiql_page(client: TestClient) -> bool:
    response = client.get("/graphql", headers={"accept": "text/html"})
    is_page = (response.status_code == 200
               and response.headers.get("content-type", "").startswith("text/html")
               and "graphiql" in response.text.lower())
    if not is_page:
        assert "graphiql" not in response.text.lower()
    return is_page


def introspect(client: TestClient) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": INTROSPECTION})
    body: dict[str, Any] = response.json()
    return body


def introspection_works(client: TestClient) -> bool:
    body = introspect(client)
    if body.get("errors"):
        assert not (body.get("data") or {}).get("__schema")
        return False
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"Query", "Mutation"} <= names
    return True


def test_development_app_serves_graphiql_and_introspection(app_for: Any) -> None:
    client = app_for("development")
    assert graphiql_page(client)
    assert introspection_works(client)


GRAPHIQL_ASSETS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js",
                   "graphiql.min.css", "sign-in.js", "sign-in.css")


def test_graphiql_loads_only_local_assets(app_for: Any) -> None:
    client = app_for("development")
    page = client.get("/graphql", headers={"accept": "text/html"})
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "https://" not in page.text and "http://" not in page.text
    for asset in GRAPHIQL_ASSETS:
        assert f"/graphiql/{asset}" in page.text
        served = client.get(f"/graphiql/{asset}")
        assert served.status_code == 200 and served.content
    assert "unpkg.com" not in client.get("/graphiql/graphiql.min.js").text


def test_graphiql_signs_in_at_the_token_endpoint(app_for: Any) -> None:
    """The page's sign-in posts client credentials to /oauth/token and sends the token
    it answers as the bearer token (assets/sign-in.js); the same exchange, done here,
    gives a token the GraphQL endpoint accepts."""
    client = app_for("development")
    script = client.get("/graphiql/sign-in.js").text
    assert 'fetch("/oauth/token"' in script and "grant_type=client_credentials" in script
    assert '"Bearer " + token' in script
    services = client.app.state.services  # type: ignore[attr-defined]
    secret = create_principal(services, "graphiql-officer", "officer")
    token = client_token(client, "graphiql-officer", secret)
    answer = Api(client, token).graphql("query VerifyAccessLog { verifyAccessLog { ok } }")
    assert answer["data"]["verifyAccessLog"]["ok"] is True


def test_production_app_hides_graphiql_and_introspection(app_for: Any) -> None:
    client = app_for("production")
    assert not graphiql_page(client)
    assert all(client.get(f"/graphiql/{a}").status_code == 404 for a in GRAPHIQL_ASSETS)
    assert not introspection_works(client)
    message = introspect(client)["errors"][0]["message"]
    assert "introspection" in message.lower()


def test_production_app_enables_them_only_when_asked(app_for: Any) -> None:
    introspection_only = app_for("production", MEMBERVAULT_INTROSPECTION="true")
    assert introspection_works(introspection_only)
    assert not graphiql_page(introspection_only)
    both = app_for("production", MEMBERVAULT_INTROSPECTION="true", MEMBERVAULT_GRAPHIQL="on")
    assert graphiql_page(both)
    assert introspection_works(both)


def test_development_app_can_turn_them_off(app_for: Any) -> None:
    client = app_for("development", MEMBERVAULT_INTROSPECTION="false",
                     MEMBERVAULT_GRAPHIQL="false")
    assert not graphiql_page(client)
    assert not introspection_works(client)


READ = """query($email: String!) {
  memberData(purpose: "marketing.email", email: $email) { email } }"""


def test_many_concurrent_reads_never_wait_for_a_connection(settings: Settings) -> None:
    """Each read holds two connections at once (its unit of work, then the access log's
    own transaction); the running app has few enough worker threads that they never all
    wait for a second connection (which fails a read after ``pool_timeout``)."""
    db = Database(create_db_engine(settings.database_url, pool_timeout=3))
    services = build_services(settings, db=db)
    ensure_signing_key(services)
    answers: list[dict[str, Any]] = []
    app = create_app(settings, services)
    with TestClient(app, base_url="http://127.0.0.1:8000") as http:  # runs the lifespan
        loyalty = Api(http, client_token(http, "loyalty-engine", create_principal(
            services, "loyalty-engine", purposes=("loyalty.membership",))))
        marketing = client_token(http, "email-marketing", create_principal(
            services, "email-marketing", purposes=("marketing.email",)))
        jane, _ = new_member(loyalty, http, settings, "jane", 1)
        assert change(jane, "marketing.email", True)["errors"] == []

        async def reads() -> None:  # on the app's own event loop, as uvicorn would
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://127.0.0.1:8000",
                                         timeout=60) as client:

                async def read() -> None:
                    response = await client.post(
                        "/graphql", json={"query": READ,
                                          "variables": {"email": "jane@example.org"}},
                        headers={"authorization": f"Bearer {marketing}"})
                    answers.append(response.json())

                async with anyio.create_task_group() as group:
                    for _ in range(100):
                        group.start_soon(read)

        http.portal.call(reads)  # type: ignore[union-attr]
    services.close()
    assert [a for a in answers if "errors" in a] == []
    assert len(answers) == 100
