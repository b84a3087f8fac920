"""The background worker: exports, erasures, webhook deliveries, expiry of archives, the
access log's per-member index and signed heads.

Every step is idempotent and claims its work with a lease, so the worker can be killed
at any point and restarted (or run twice at once) without losing or doubling work.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import threading
import traceback
from collections.abc import Callable, Iterator

from opentelemetry.context import Context

from audit import heads, member_index
from export.archive import purge_expired
from identity import sign_in_limits
from membervault.observability import worker_metrics
from membervault.services import Services
from outbox.delivery import deliver_due
from retention.sweeper import SweepIncomplete, last_sweep_at, sweep
from subject_requests.access import build_pending_exports
from subject_requests.erasure import complete_acknowledged, erase_pending
from vaultkernel import telemetry
from vaultkernel.clock import utcnow
from vaultkernel.request_id import reset_request_id, set_request_id
from vaultkernel.telemetry import measured

log = logging.getLogger("membervault.worker")
LEASE = dt.timedelta(minutes=5)


def run_once(services: Services, now: Callable[[], dt.datetime] = utcnow) -> dict[str, int]:
    """One pass over every kind of work; returns how much of each was done."""
    with worker_pass():
        return _steps(services, now)


@contextlib.contextmanager
def worker_pass() -> Iterator[None]:
    """A pass's id (in the request id's place, so every line it logs carries one) and its
    span: each pass is a trace of its own, each step a span in it."""
    token = set_request_id(f"pass-{secrets.token_hex(8)}")
    try:
        with telemetry.root("worker.pass", context=Context()):  # never a caller's trace
            yield
    finally:
        reset_request_id(token)


def _steps(services: Services, now: Callable[[], dt.datetime]) -> dict[str, int]:
    steps: dict[str, Callable[[], int]] = {
        "exports": lambda: build_pending_exports(services.db, services.exports, now=now()),
        "erasures": lambda: erase_pending(services.db, services.erasure_kit, now=now()),
        "deliveries": lambda: deliver_due(services.db, services.courier, now=now()),
        "completed": lambda: complete_acknowledged(services.db, now=now()),
        "expired_archives": lambda: purge_expired(services.db, services.exports, now=now()),
        "expired_sign_in_guesses": lambda: sign_in_limits.prune_expired(
            services.db, services.sign_in.guesses, now()),
        "retention_swept": lambda: sweep_if_due(services, now=now()),
        "access_log_indexed": lambda: member_index.catch_up(services.db),
        "access_log_heads": lambda: sign_access_log_head(services, now=now()),
    }
    done: dict[str, int] = {}
    for name, step in steps.items():
        with measured(f"worker.{name}") as span:
            done[name] = step()
            span.set_attribute("membervault.jobs.done", done[name])
        worker_metrics.jobs_done(name, done[name])
    if any(done.values()):
        log.info("worker pass: %s", ", ".join(f"{k}={v}" for k, v in done.items() if v))
    return done


def sign_access_log_head(services: Services, now: dt.datetime) -> int:
    with services.db.unit_of_work() as uow:
        return 0 if heads.sign_head(uow, services.notary, now) is None else 1


def sweep_if_due(services: Services, now: dt.datetime) -> int:
    """Run the retention sweep when the last one (by any worker) is older than the
    interval; returns how many rows it affected."""
    with services.db.unit_of_work() as uow:
        last = last_sweep_at(uow.session)
    interval = dt.timedelta(seconds=services.settings.retention_interval)
    if last is not None and now - last < interval:
        return 0
    try:
        return sum(sweep(services.db, services.sweep_kit, now=now).counts().values())
    except SweepIncomplete as incomplete:  # recorded in the audit trail; retried next interval
        return sum(incomplete.report.counts().values())


def run_forever(services: Services, interval: float = 2.0, *,
                stop: threading.Event | None = None,
                orphaned: Callable[[], bool] | None = None) -> None:
    """Pass after pass until ``stop`` is set (or ``orphaned()`` says the process that
    started this worker is gone); a pass in hand is finished first."""
    stop = stop or threading.Event()
    log.info("worker started")
    while not stop.is_set() and not (orphaned and orphaned()):
        with worker_pass():
            try:
                _steps(services, utcnow)
            except Exception as exc:  # noqa: BLE001  (keep serving; the failure is logged)
                # Type and frames only: an exception's message may carry a personal value.
                log.error("worker pass failed with %s; retrying in %.0fs\n%s",
                          type(exc).__name__, interval,
                          "".join(traceback.format_tb(exc.__traceback__)))
        stop.wait(interval)
    log.info("worker stopped")
