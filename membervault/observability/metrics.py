"""Prometheus metrics recorded by the server's processes.

Counters and histograms live in the process that serves the request. With several
uvicorn workers, ``serve`` turns on prometheus-client's multiprocess mode (every process
writes its values to files in one directory, :func:`exposition` adds them up), so any
worker answers ``/metrics`` for all of them. Backlogs (jobs, requests due, the last
sweep) are not counted by anyone: they are read from the database at scrape time
(:mod:`membervault.observability.backlog`), so they hold whichever process did the work,
the separate worker included.

Label values are bounded: the GraphQL operation name is the client's only when it is a
plain identifier and one of the first :data:`OPERATION_NAMES` this process has seen;
anything else is ``other``, and an operation without a name is ``anonymous``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
DIRECTORY_SETTING_ENV = "MEMBERVAULT_METRICS_DIR"
OPERATION_NAMES = 100
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

GRAPHQL_REQUESTS = Counter(
    "membervault_graphql_requests", "GraphQL operations answered, by operation name, type "
    "and outcome (ok, or error when the answer carries errors)",
    ["operation", "type", "outcome"], registry=None)
GRAPHQL_DURATION = Histogram(
    "membervault_graphql_request_duration_seconds", "Time to answer a GraphQL operation "
    "(parse, validate, execute)", ["operation", "type"], buckets=_LATENCY, registry=None)
ACCESS_LOG_WRITE = Histogram(
    "membervault_access_log_write_duration_seconds", "Time to commit one access log "
    "entry, retries included", buckets=_LATENCY, registry=None)
ACCESS_LOG_FAILURES = Counter(
    "membervault_access_log_write_failures", "Access log writes that failed (the read "
    "they guarded failed closed), by exception type", ["reason"], registry=None)
RECORDED = (GRAPHQL_REQUESTS, GRAPHQL_DURATION, ACCESS_LOG_WRITE, ACCESS_LOG_FAILURES)


class OperationNames:
    """Bounds the operation label: a client's name while fewer than ``limit`` are known."""

    def __init__(self, limit: int = OPERATION_NAMES):
        self.limit = limit
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if not _NAME.match(name):
            return "other"
        if name in self._known:
            return name
        with self._lock:
            if len(self._known) < self.limit:
                self._known.add(name)
                return name
        return "other"


OPERATIONS = OperationNames()


def observe(operation: str, seconds: float, failure: str | None) -> None:
    """The kernel's observer (:func:`vaultkernel.telemetry.measured`)."""
    if operation == "access_log.write":
        ACCESS_LOG_WRITE.observe(seconds)
        if failure is not None:
            ACCESS_LOG_FAILURES.labels(failure).inc()


def graphql_operation(operation: str, operation_type: str, seconds: float, ok: bool) -> None:
    GRAPHQL_REQUESTS.labels(operation, operation_type, "ok" if ok else "error").inc()
    GRAPHQL_DURATION.labels(operation, operation_type).observe(seconds)


@contextlib.contextmanager
def shared_by_processes(directory: str, *, server_processes: int) -> Iterator[str]:
    """The metrics directory of the processes started inside the block, handed to them as
    ``MEMBERVAULT_METRICS_DIR``: ``directory``, or a fresh temporary one removed
    afterwards. With several server processes, multiprocess mode (uvicorn's workers
    import the app afresh, so they pick it up): their metrics go to files there, emptied
    first (values of processes gone would add up forever). The background worker writes
    in ``worker/`` (:mod:`.worker_metrics`), which every server process adds."""
    made = not directory
    path = Path(directory or tempfile.mkdtemp(prefix="membervault-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    given = os.environ.get(DIRECTORY_SETTING_ENV)
    os.environ[DIRECTORY_SETTING_ENV] = str(path)
    if server_processes > 1:
        os.environ[MULTIPROCESS_ENV] = str(path)
    try:
        yield str(path)
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        if given is None:
            del os.environ[DIRECTORY_SETTING_ENV]
        else:
            os.environ[DIRECTORY_SETTING_ENV] = given
        if made:
            shutil.rmtree(path, ignore_errors=True)


def exposition(*collectors: Collector) -> bytes:
    """The text format: this process's metrics (or every process's, in multiprocess
    mode) and ``collectors`` (computed now)."""
    registry = CollectorRegistry()  # no auto-describe: it would read the backlog twice
    directory = os.environ.get(MULTIPROCESS_ENV)
    if directory:
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        for metric in RECORDED:
            registry.register(metric)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)
