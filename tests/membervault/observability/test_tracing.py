"""Traces: a caller's traceparent is continued, the request, the GraphQL operation, the
access log write, the SQL statements and the worker's steps are spans, and no span
carries a personal value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from membervault import worker
from membervault.observability.wiring import observe
from membervault.services import Services
from tests.conftest import JANE, Api, register
from tests.consent.support import MEMBER_DATA_BY_EMAIL
from tests.subject_requests.support import OPEN
from vaultkernel import telemetry

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN}-01"
BY_EMAIL = MEMBER_DATA_BY_EMAIL.replace("query(", "query MemberDataByEmail(")


@pytest.fixture
def spans(http: TestClient, services: Services) -> Iterator[InMemorySpanExporter]:
    """Spans recorded in memory (after the app has installed its own tracer)."""
    exporter = InMemorySpanExporter()
    observe(services, "server", exporter)
    yield exporter
    telemetry.install()


def personal_values(member: dict[str, Any]) -> set[str]:
    values = {str(v) for k, v in member.items() if isinstance(v, str)}
    values |= set(member["postalAddress"]["lines"]) | {member["postalAddress"]["postalCode"]}
    return values | {"07911123456", "+447911123456", "janelle", "Quasimodo"}


def attribute_texts(span: ReadableSpan) -> list[str]:
    texts = [span.name]
    for value in (span.attributes or {}).values():
        texts += [str(v) for v in value] if isinstance(value, tuple) else [str(value)]
    for event in span.events:
        texts += [str(v) for v in (event.attributes or {}).values()]
    return texts


def test_a_read_by_email_is_traced_without_a_personal_value(
        spans: InMemorySpanExporter, loyalty_api: Api) -> None:
    registered = register(loyalty_api)
    assert registered["errors"] == []
    answer = loyalty_api.graphql(BY_EMAIL, {"purpose": "loyalty.membership",
                                            "email": JANE["email"]})
    assert answer["data"]["memberData"]["email"] == JANE["email"]
    recorded = spans.get_finished_spans()
    names = {s.name for s in recorded}
    assert {"POST /graphql", "query MemberDataByEmail", "access_log.write",
            "db SELECT", "db INSERT"} <= names
    secrets = personal_values(JANE) | {registered["memberNumber"]}
    leaked = [(s.name, text) for s in recorded for text in attribute_texts(s)
              if any(secret.lower() in text.lower() for secret in secrets)]
    assert leaked == []
    operation = next(s for s in recorded if s.name == "query MemberDataByEmail")
    assert operation.attributes == {"graphql.operation.name": "MemberDataByEmail",
                                    "graphql.operation.type": "query",
                                    "membervault.graphql.outcome": "ok"}


def test_the_callers_traceparent_is_continued(spans: InMemorySpanExporter,
                                              loyalty_api: Api, jane: dict[str, Any]) -> None:
    spans.clear()
    loyalty_api.graphql(BY_EMAIL, {"purpose": "loyalty.membership", "email": JANE["email"]},
                        traceparent=TRACEPARENT)
    recorded = spans.get_finished_spans()
    assert recorded
    assert {f"{s.context.trace_id:032x}" for s in recorded} == {TRACE_ID}
    server = next(s for s in recorded if s.name == "POST /graphql")
    assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT_SPAN
    operation = next(s for s in recorded if s.name == "query MemberDataByEmail")
    access_log = next(s for s in recorded if s.name == "access_log.write")
    assert operation.parent is not None and operation.parent.span_id == server.context.span_id
    assert access_log.attributes is not None
    assert access_log.attributes["membervault.access_log.members"] == 1


def test_a_malformed_traceparent_starts_a_new_trace(spans: InMemorySpanExporter,
                                                    http: TestClient) -> None:
    spans.clear()
    http.get("/healthz", headers={"traceparent": "00-zz-yy-01"})
    (server,) = spans.get_finished_spans()
    assert server.parent is None and server.context.trace_id != int(TRACE_ID, 16)


def test_each_worker_pass_is_a_trace_with_a_span_per_step(
        spans: InMemorySpanExporter, services: Services, jane_api: Api) -> None:
    jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})
    spans.clear()
    with telemetry.root("whatever was current"):
        worker.run_once(services)
    recorded = [s for s in spans.get_finished_spans() if s.name.startswith("worker.")]
    passes = [s for s in recorded if s.name == "worker.pass"]
    assert len(passes) == 1 and passes[0].parent is None
    exports = next(s for s in recorded if s.name == "worker.exports")
    assert exports.attributes == {"membervault.jobs.done": 1}
    assert exports.parent is not None and exports.parent.span_id == passes[0].context.span_id
    assert {s.context.trace_id for s in recorded} == {passes[0].context.trace_id}
