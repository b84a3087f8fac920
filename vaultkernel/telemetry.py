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
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

# (operation, seconds, failure: the exception's type name, or None when it succeeded)
Observer = Callable[[str, float, str | None], None]
Attribute = str | int | float | bool


class _Plugged:
    tracer: Tracer = trace.NoOpTracer()
    observer: Observer | None = None
    recording = False


def install(tracer: Tracer | None = None, observer: Observer | None = None, *,
            recording: bool = False) -> None:
    """Plug in the process's tracer and observer (the composition root does, once).
    ``recording``: spans are recorded (and exported); otherwise only the roots of
    requests and worker passes are made, for their trace ids, and :func:`span` costs
    nothing."""
    _Plugged.tracer = tracer or trace.NoOpTracer()
    _Plugged.observer = observer
    _Plugged.recording = recording


def tracer() -> Tracer:
    return _Plugged.tracer


def root(name: str, attributes: Mapping[str, Attribute] | None = None,
         **options: Any) -> AbstractContextManager[Span]:
    """A span made whether or not spans are recorded: a request's or a worker pass's, whose
    trace id the log lines carry."""
    return _Plugged.tracer.start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False,
        **options)


def span(name: str, attributes: Mapping[str, Attribute] | None = None
         ) -> AbstractContextManager[Span]:
    """A span inside the current one when spans are recorded; otherwise a stand-in that
    takes attributes and leaves the current trace as it is."""
    if not _Plugged.recording:
        return nullcontext(trace.INVALID_SPAN)
    return _Plugged.tracer.start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False)


@contextmanager
def measured(operation: str, attributes: Mapping[str, Attribute] | None = None
             ) -> Iterator[Span]:
    """A span named ``operation`` around the block; its duration and outcome go to the
    observer. The span is yielded, so the block can add counts it learns."""
    started = time.perf_counter()
    failure: str | None = None
    # Exceptions are recorded by type below, never with their message (record_exception
    # would store it in the span).
    with span(operation, attributes) as current:
        try:
            yield current
        except BaseException as exc:
            failure = type(exc).__name__
            current.set_status(Status(StatusCode.ERROR, failure))
            current.set_attribute("error.type", failure)
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
