"""A strawberry extension around each GraphQL operation: a span and the metrics.

Outermost of the schema's extensions, so the time includes parsing and validation. The
operation's name is bucketed (:class:`~membervault.observability.metrics.OperationNames`)
for the span as for the metrics; the query text and variables are never recorded (they
may carry a member's e-mail address or any other value).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from opentelemetry.trace import Span
from strawberry.extensions import SchemaExtension

from membervault.observability import metrics
from vaultkernel import telemetry


class ObservedOperation(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        with telemetry.span("graphql.operation") as span:
            try:
                yield
            finally:
                self._record(span, started)

    def _record(self, span: Span, started: float) -> None:
        context = self.execution_context
        name = metrics.OPERATIONS.label(context.operation_name)
        try:
            kind = context.operation_type.value
        except Exception:  # noqa: BLE001  (no document: it did not parse)
            kind = "unknown"
        result = context.result
        ok = not context.pre_execution_errors and not (result and result.errors)
        span.update_name(f"{kind} {name}")
        span.set_attributes({"graphql.operation.name": name,
                             "graphql.operation.type": kind,
                             "membervault.graphql.outcome": "ok" if ok else "error"})
        metrics.graphql_operation(name, kind, time.perf_counter() - started, ok)
