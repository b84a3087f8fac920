"""Every JSON log line carries the request id and the trace id: a request's lines, and
the worker's lines (a pass's id in the request id's place)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from membervault import worker
from membervault.observability.wiring import observe
from membervault.services import Services
from tests.conftest import Api, ServerLog
from tests.subject_requests.support import OPEN

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def ours(log: ServerLog) -> list[dict[str, Any]]:
    """The service's lines (not the test client's own)."""
    return [r for r in log.records() if r["logger"].startswith("membervault")]


def test_a_requests_lines_carry_its_request_id_and_the_callers_trace_id(
        server_log: Callable[[str], ServerLog], http: TestClient) -> None:
    log = server_log("json")
    response = http.get("/readyz", headers={"traceparent": TRACEPARENT,
                                            "x-request-id": "ops-check-0001"})
    assert response.status_code == 200
    records = ours(log)
    assert records
    assert all(r["requestId"] == "ops-check-0001" and r["traceId"] == TRACE_ID
               for r in records)
    assert all(len(r["spanId"]) == 16 for r in records)


def test_without_a_traceparent_a_request_gets_a_trace_id_of_its_own(
        server_log: Callable[[str], ServerLog], http: TestClient) -> None:
    log = server_log("json")
    http.get("/healthz")
    http.get("/healthz")
    first, second = ours(log)
    assert len(first["traceId"]) == 32 and first["traceId"] != second["traceId"]
    assert first["requestId"] != second["requestId"]


def test_worker_lines_carry_a_pass_id_and_a_trace_id(
        server_log: Callable[[str], ServerLog], services: Services, jane_api: Api) -> None:
    jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})
    observe(services, "worker")
    log = server_log("json")
    logging.getLogger("membervault.worker").info("before a pass")
    worker.run_once(services)
    outside, *records = ours(log)
    assert outside["requestId"] is None and outside["traceId"] is None
    assert any(r["message"].startswith("worker pass: exports=1") for r in records)
    ids: set[Any] = {(r["requestId"], r["traceId"]) for r in records}
    assert len(ids) == 1
    ((pass_id, trace_id),) = ids
    assert pass_id.startswith("pass-") and len(trace_id) == 32
