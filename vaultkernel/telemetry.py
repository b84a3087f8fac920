"""The one seam through which the domain reports what operators measure: a span named for
a piece of work, with its duration and outcome handed to an observer.

The composition root plugs in the tracer and the observer (metrics, see
``membervault/observability``); until it does, :func:`measured` costs next to nothing and
records nothing. Attributes are counts and names chosen by the code, never a personal
value, and a failure is reported by its exception's type only: a message may carry the
input that caused it (docs/operations.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

# (operation, seconds, failure: the exception's type name, or None when it succeeded)
Observer = Callable[[str, float, str | None], None]
Attribute = str | int | float | bool


class _Plugged:
    tracer: Tracer = trace.NoOpTracer()
    observer: Observer | None = None


def install(tracer: Tracer | None = None, observer: Observer | None = None) -> None:
    """Plug in the process's tracer and observer (the composition root does, once)."""
    _Plugged.tracer = tracer or trace.NoOpTracer()
    _Plugged.observer = observer


def tracer() -> Tracer:
    return _Plugged.tracer


@contextmanager
def measured(operation: str, attributes: Mapping[str, Attribute] | None = None
             ) -> Iterator[Span]:
    """A span named ``operation`` around the block; its duration and outcome go to the
    observer. The span is yielded, so the block can add counts it learns."""
    started = time.perf_counter()
    failure: str | None = None
    # Exceptions are recorded by type below, never with their message (record_exception
    # would store it in the span).
    with _Plugged.tracer.start_as_current_span(operation, attributes=attributes,
                                               record_exception=False,
                                               set_status_on_exception=False) as span:
        try:
            yield span
        except BaseException as exc:
            failure = type(exc).__name__
            span.set_status(Status(StatusCode.ERROR, failure))
            span.set_attribute("error.type", failure)
            raise
        finally:
            observer = _Plugged.observer
            if observer is not None:
                observer(operation, time.perf_counter() - started, failure)


def current_trace_ids() -> tuple[str, str] | None:
    """The current trace id and span id (hex), for log lines; None outside a trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"
