"""/metrics: closed unless configured, refused without its token, and the numbers move
when requests, access log writes and the worker's jobs happen."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from membervault import worker
from membervault.app import create_app
from membervault.services import Services
from tests.conftest import Api
from tests.consent.support import MEMBER_DATA
from tests.membervault.observability.support import METRICS_TOKEN, scrape, value
from tests.subject_requests.support import OPEN
from vaultkernel.settings import Settings

NAMED_READ = MEMBER_DATA.replace("query(", "query LoyaltyMemberData(")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(metrics_token=METRICS_TOKEN)


def test_metrics_are_not_served_without_a_configured_token(
        settings: Settings, services: Services) -> None:
    closed = settings.replace(metrics_token="")
    with TestClient(create_app(closed, services)) as http:
        assert http.get("/metrics").status_code == 404
        response = http.get("/metrics", headers={"authorization": "Bearer "})
        assert response.status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {METRICS_TOKEN}",
                                           f"Bearer {METRICS_TOKEN}x"])
def test_metrics_are_refused_without_the_token(http: TestClient,
                                               authorization: str | None) -> None:
    headers = {"authorization": authorization} if authorization else {}
    response = http.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "membervault_" not in response.text


def test_a_query_counts_under_its_operation_name_and_writes_the_log(
        http: TestClient, loyalty_api: Api, jane: dict[str, Any]) -> None:
    before = scrape(http)
    answer = loyalty_api.graphql(NAMED_READ, {"purpose": "loyalty.membership",
                                              "number": jane["memberNumber"]})
    assert answer["data"]["memberData"]["memberNumber"] == jane["memberNumber"]
    after = scrape(http)
    labels = {"operation": "LoyaltyMemberData", "type": "query"}
    assert value(after, "membervault_graphql_requests_total", outcome="ok", **labels) == \
        value(before, "membervault_graphql_requests_total", outcome="ok", **labels) + 1
    assert value(after, "membervault_graphql_request_duration_seconds_count", **labels) == \
        value(before, "membervault_graphql_request_duration_seconds_count", **labels) + 1
    assert value(after, "membervault_access_log_write_duration_seconds_count") == \
        value(before, "membervault_access_log_write_duration_seconds_count") + 1


def test_anonymous_and_odd_operation_names_are_bucketed(http: TestClient, loyalty_api: Api,
                                                        jane: dict[str, Any]) -> None:
    before = scrape(http)
    loyalty_api.graphql(MEMBER_DATA, {"purpose": "loyalty.membership",
                                      "number": jane["memberNumber"]})
    http.post("/graphql", headers={"authorization": f"Bearer {loyalty_api.token}"},
              json={"query": "query Ok { __typename }", "operationName": "x y@example.org"})
    after = scrape(http)
    anonymous = {"operation": "anonymous", "type": "query", "outcome": "ok"}
    assert value(after, "membervault_graphql_requests_total", **anonymous) == \
        value(before, "membervault_graphql_requests_total", **anonymous) + 1
    assert not any("example.org" in v for _, labels in after for _, v in labels)


def test_operations_refused_for_their_name_or_type_count_as_errors(http: TestClient) -> None:
    before = scrape(http)
    unknown = http.post("/graphql", json={"query": "query Ok { __typename }",
                                          "operationName": "NoSuchOperation"})
    via_get = http.get("/graphql", params={"query": "query ViaGet { __typename }"},
                       headers={"accept": "application/json"})
    assert unknown.status_code == via_get.status_code == 400
    after = scrape(http)
    for labels in ({"operation": "NoSuchOperation", "type": "unknown"},
                   {"operation": "ViaGet", "type": "query"}):
        assert value(after, "membervault_graphql_requests_total", outcome="error", **labels) \
            == value(before, "membervault_graphql_requests_total", outcome="error", **labels) + 1


def test_an_access_log_that_cannot_be_written_is_counted(
        http: TestClient, services: Services, loyalty_api: Api,
        jane: dict[str, Any], log_table_gone: Iterator[None]) -> None:
    before = scrape(http)
    answer = loyalty_api.graphql(NAMED_READ, {"purpose": "loyalty.membership",
                                              "number": jane["memberNumber"]})
    assert answer["errors"][0]["extensions"]["code"] == "ACCESS_LOG_UNAVAILABLE"
    after = scrape(http)
    failures = {"reason": "AccessLogUnavailable"}
    assert value(after, "membervault_access_log_write_failures_total", **failures) == \
        value(before, "membervault_access_log_write_failures_total", **failures) + 1
    failed = {"operation": "LoyaltyMemberData", "type": "query", "outcome": "error"}
    assert value(after, "membervault_graphql_requests_total", **failed) == \
        value(before, "membervault_graphql_requests_total", **failed) + 1


@pytest.fixture
def log_table_gone(services: Services) -> Iterator[None]:
    with services.db.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE access_log RENAME TO access_log_away"))
    yield
    with services.db.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE access_log_away RENAME TO access_log"))


def test_the_worker_empties_the_export_queue_and_records_its_sweep(
        http: TestClient, services: Services, jane_api: Api) -> None:
    before = scrape(http)
    assert value(before, "membervault_jobs_queued", queue="exports") == 0
    assert ("membervault_retention_last_sweep_timestamp_seconds", frozenset()) not in before
    opened = jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})["data"]["openMyRequest"]
    assert opened["errors"] == []
    waiting = scrape(http)
    assert value(waiting, "membervault_jobs_queued", queue="exports") == 1
    assert value(waiting, "membervault_jobs_oldest_age_seconds", queue="exports") >= 0
    assert value(waiting, "membervault_requests_due_soon", type="access") == 0  # a month
    assert value(waiting, "membervault_requests_overdue", type="access") == 0

    assert worker.run_once(services)["exports"] == 1

    done = scrape(http)
    assert value(done, "membervault_jobs_queued", queue="exports") == 0
    assert value(done, "membervault_jobs_queued", queue="dead_letters") == 0
    assert value(done, "membervault_retention_last_sweep_timestamp_seconds") > 0
    assert value(done, "membervault_retention_last_sweep_failed_rules") == 0
    assert ("membervault_retention_last_sweep_rows",
            frozenset({("rule", "access_log")})) in done


def test_entries_not_yet_in_the_per_member_index_are_a_backlog(
        http: TestClient, services: Services) -> None:
    from audit import member_index
    from audit.chain import Read

    member_index.catch_up(services.db)
    assert value(scrape(http), "membervault_access_log_unindexed_entries") == 0
    for n in range(3):
        services.access_log.append("client:test", "loyalty.membership",
                                   [Read(uuid.uuid4(), ["email"])], f"req-{n}")
    assert value(scrape(http), "membervault_access_log_unindexed_entries") == 3
    worker.run_once(services)  # indexes (its sweep, when due, catches up first)
    assert value(scrape(http), "membervault_access_log_unindexed_entries") == 0


def test_requests_past_their_due_date_are_overdue(http: TestClient, services: Services,
                                                 jane_api: Api) -> None:
    from subject_requests.models import DataSubjectRequest

    jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})
    with services.db.engine.begin() as connection:
        connection.execute(sa.update(DataSubjectRequest).values(
            due_at=services.clock.now() - __import__("datetime").timedelta(days=1)))
    assert value(scrape(http), "membervault_requests_overdue", type="access") == 1


RECORD_ONE = """
from membervault.observability import metrics
metrics.graphql_operation("SharedName", "query", 0.01, True)
"""
EXPOSE = """
from membervault.observability import metrics
print(metrics.exposition().decode())
"""


def test_several_processes_add_their_metrics_up(tmp_path: Path) -> None:
    """What ``serve --workers N`` turns on: each uvicorn worker writes its own file."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", RECORD_ONE], env=env, check=True)
    assert len(list(tmp_path.glob("*.db"))) >= 2
    text = subprocess.run([sys.executable, "-c", EXPOSE], env=env, check=True,
                          capture_output=True, text=True).stdout
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert value(samples, "membervault_graphql_requests_total", operation="SharedName",
                 type="query", outcome="ok") == 2


def test_serve_shares_a_directory_emptied_of_processes_gone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from membervault.observability.metrics import (
        DIRECTORY_SETTING_ENV,
        MULTIPROCESS_ENV,
        shared_by_processes,
    )

    monkeypatch.delenv(DIRECTORY_SETTING_ENV, raising=False)
    (tmp_path / "counter_4242.db").write_bytes(b"old")
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "counter_7-ab.db").write_bytes(b"the worker's")
    with shared_by_processes(str(tmp_path), server_processes=2) as directory:
        assert os.environ[MULTIPROCESS_ENV] == os.environ[DIRECTORY_SETTING_ENV] == directory
        assert directory == str(tmp_path)
        assert [p.name for p in tmp_path.iterdir()] == ["worker"]  # the worker's own
    assert MULTIPROCESS_ENV not in os.environ and DIRECTORY_SETTING_ENV not in os.environ
    assert tmp_path.is_dir()
    # One server process beside the worker: the directory for the worker, and the
    # server's metrics stay in its memory.
    with shared_by_processes("", server_processes=1) as directory:
        assert os.environ[DIRECTORY_SETTING_ENV] == directory and Path(directory).is_dir()
        assert MULTIPROCESS_ENV not in os.environ
    assert not Path(directory).exists() and DIRECTORY_SETTING_ENV not in os.environ
