"""The app (membervault.app.create_app) in each mode: GraphiQL and introspection are off in
production unless enabled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from membervault.app import create_app
from tests.conftest import production_env
from vaultkernel.settings import load_settings

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


def test_production_app_hides_graphiql_and_introspection(app_for: Any) -> None:
    client = app_for("production")
    assert not graphiql_page(client)
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
