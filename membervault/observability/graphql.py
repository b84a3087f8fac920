"""Each GraphQL operation's span and metrics (the schema's observer, see
``schema/operations.py``).

It wraps the whole operation, so the time includes parsing and validation (when the
document is not cached yet). The operation's name is bucketed
(:class:`~membervault.observability.metrics.OperationNames`) for the span as for the
metrics; the query text and variables are never recorded (they may carry a member's
e-mail address or any other value).
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from membervault.observability import metrics
from schema.operations import Operation
from vaultkernel import telemetry


class ObservedOperation:
    def __init__(self, operation: Operation) -> None:
        self.operation = operation

    def __enter__(self) -> None:
        self.started = time.perf_counter()
        self.span = telemetry.span("graphql.operation")
        self.current: Any = self.span.__enter__()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 frames: TracebackType | None) -> None:
        try:
            self._record()
        finally:
            self.span.__exit__(kind, error, frames)

    def _record(self) -> None:
        operation = self.operation
        name = metrics.OPERATIONS.label(operation.name)
        self.current.update_name(f"{operation.kind} {name}")
        self.current.set_attributes({
            "graphql.operation.name": name, "graphql.operation.type": operation.kind,
            "membervault.graphql.outcome": "ok" if operation.ok else "error"})
        metrics.graphql_operation(name, operation.kind, time.perf_counter() - self.started,
                                  operation.ok)
