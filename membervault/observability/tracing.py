"""Traces: an OpenTelemetry SDK tracer for the process, and spans for SQL statements.

Tracing is off unless ``MEMBERVAULT_OTLP_ENDPOINT`` names a collector (or a test hands
an exporter in). Off, the tracer still gives every request and worker pass a trace id (a
caller's ``traceparent`` is honoured) so that log lines can be correlated, but records
nothing. On, spans are recorded as the caller's ``traceparent`` says (parent-based, a new
trace sampled) and sent in batches over OTLP/HTTP.

No span attribute holds a personal value: spans carry names chosen by the code, counts,
the bucketed GraphQL operation name and, for SQL, only the database system and the
statement's verb (never its text or parameters).
"""

from __future__ import annotations

import importlib
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import SpanKind
from sqlalchemy import Engine, event

from vaultkernel import telemetry
from vaultkernel.settings import Settings, SettingsError

VERBS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT",
                   "ROLLBACK", "PRAGMA", "CREATE", "DROP", "ALTER", "SAVEPOINT", "RELEASE"})


def recording(settings: Settings, exporter: SpanExporter | None) -> bool:
    return exporter is not None or bool(settings.otlp_endpoint)


def provider(settings: Settings, role: str, exporter: SpanExporter | None = None
             ) -> TracerProvider:
    """The tracer provider of a ``role`` (``server`` or ``worker``) process."""
    sampler: Sampler = (ParentBased(TraceIdRatioBased(1.0)) if recording(settings, exporter)
                        else ALWAYS_OFF)
    tracer_provider = TracerProvider(
        sampler=sampler, shutdown_on_exit=bool(settings.otlp_endpoint),  # flush at exit
        resource=Resource.create({"service.name": "membervault",
                                  "service.namespace": "membervault",
                                  "membervault.process.role": role}))
    if exporter is not None:
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.otlp_endpoint:
        tracer_provider.add_span_processor(BatchSpanProcessor(otlp_exporter(settings)))
    return tracer_provider


def otlp_exporter(settings: Settings) -> SpanExporter:
    """OTLP over HTTP (the optional ``otlp`` extra; the container image has it)."""
    try:
        module = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    except ImportError:
        raise SettingsError("MEMBERVAULT_OTLP_ENDPOINT needs the OTLP exporter: pip install "
                            "'membervault[otlp]'") from None
    exporter: SpanExporter = module.OTLPSpanExporter(endpoint=settings.otlp_endpoint)
    return exporter


def trace_statements(engine: Engine) -> None:
    """A client span per SQL statement: the database system and the statement's verb."""
    system = engine.dialect.name

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        words = statement.lstrip().split(None, 1)
        verb = words[0].upper() if words else ""
        verb = verb if verb in VERBS else "OTHER"
        span = telemetry.tracer().start_span(
            f"db {verb}", kind=SpanKind.CLIENT,
            attributes={"db.system.name": system, "db.operation.name": verb})
        conn.info.setdefault("membervault.spans", []).append(span)

    def after(conn: Any, *_: Any) -> None:
        spans = conn.info.get("membervault.spans")
        if spans:
            spans.pop().end()

    def failed(context: Any) -> None:
        conn = context.connection
        spans = conn.info.get("membervault.spans") if conn is not None else None
        if spans:
            span = spans.pop()
            span.set_attribute("error.type", type(context.original_exception).__name__)
            span.end()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)
