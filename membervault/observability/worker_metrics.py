"""The background worker's own metrics, served by the server's ``/metrics``.

The worker serves no HTTP. When it knows the metrics directory (``MEMBERVAULT_METRICS_DIR``,
which ``serve --with-worker`` hands it), it writes its values in prometheus-client's
multiprocess files under ``<directory>/worker/``, and every server process adds those
files up at scrape time (:func:`files_of_workers`). Its names are its own
(``membervault_worker_*``), so they never meet the server's in one family.

Several workers may share the directory (each writes files named by an id of its own and
holds a lock on ``<id>.lock`` while it lives); a worker starting removes the files of
workers whose lock nobody holds any more, so the numbers of processes gone do not add up
forever. Without the directory, nothing is recorded (a pass still logs and traces).
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from prometheus_client import Counter, Histogram, Metric, values
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from membervault.observability.metrics import MULTIPROCESS_ENV

SUBDIRECTORY = "worker"
_STEP_SECONDS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class _Recorded:
    def __init__(self) -> None:
        self.done = Counter(
            "membervault_worker_jobs_done", "Items the worker's steps did (exports built, "
            "members erased, deliveries attempted, rows swept, ...), by step", ["step"],
            registry=None)
        self.duration = Histogram(
            "membervault_worker_step_duration_seconds", "Time one step of a worker pass "
            "took, by step", ["step"], buckets=_STEP_SECONDS, registry=None)
        self.failures = Counter(
            "membervault_worker_step_failures", "Steps that failed (the pass is retried), "
            "by step and exception type", ["step", "reason"], registry=None)


_recorded: _Recorded | None = None
_lock: IO[str] | None = None


def record_in(directory: str) -> None:
    """From now on, this process's worker metrics go to files in
    ``<directory>/worker/`` (call once, before the first pass)."""
    global _recorded, _lock
    path = Path(directory) / SUBDIRECTORY
    path.mkdir(parents=True, exist_ok=True)
    me = f"{os.getpid()}-{secrets.token_hex(4)}"
    _lock = (path / f"{me}.lock").open("w")
    fcntl.flock(_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _forget_workers_gone(path, me)
    os.environ[MULTIPROCESS_ENV] = str(path)
    # prometheus-client picks the value class when it is imported, long before now; the
    # id (not the pid) keeps workers of several containers apart in one shared folder.
    values.ValueClass = values.MultiProcessValue(lambda: me)  # type: ignore[no-untyped-call]
    _recorded = _Recorded()


def _forget_workers_gone(path: Path, me: str) -> None:
    live = {me}
    for lock_file in path.glob("*.lock"):
        if lock_file.stem == me:
            continue
        with lock_file.open("a") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                live.add(lock_file.stem)
                continue
        lock_file.unlink(missing_ok=True)
    for values_file in path.glob("*.db"):
        if values_file.stem.rsplit("_", 1)[-1] not in live:
            values_file.unlink(missing_ok=True)


def observe(operation: str, seconds: float, failure: str | None) -> None:
    """The worker's observer (:func:`vaultkernel.telemetry.measured`): its steps."""
    if _recorded is None or not operation.startswith("worker."):
        return
    step = operation.removeprefix("worker.")
    _recorded.duration.labels(step).observe(seconds)
    if failure is not None:
        _recorded.failures.labels(step, failure).inc()


def jobs_done(step: str, count: int) -> None:
    if _recorded is not None and count:
        _recorded.done.labels(step).inc(count)


class _WorkerFiles(Collector):
    def __init__(self, path: Path):
        self.path = path

    def collect(self) -> Iterable[Metric]:
        files = sorted(str(f) for f in self.path.glob("*.db"))
        return MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call,no-any-return]


def files_of_workers(directory: str) -> Iterator[Collector]:
    """What the workers wrote in ``directory`` (none when no directory is set)."""
    if directory and (Path(directory) / SUBDIRECTORY).is_dir():
        yield _WorkerFiles(Path(directory) / SUBDIRECTORY)
