"""The background worker: exports, erasures, webhook deliveries, expiry of archives, the
access log's per-member index and signed heads.

Every step is idempotent and claims its work with a lease, so the worker can be killed
at any point and restarted (or run twice at once) without losing or doubling work.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import traceback
from collections.abc import Callable

from audit import heads, member_index
from export.archive import purge_expired
from identity import sign_in_limits
from membervault.services import Services
from outbox.delivery import deliver_due
from retention.sweeper import SweepIncomplete, last_sweep_at, sweep
from subject_requests.access import build_pending_exports
from subject_requests.erasure import complete_acknowledged, erase_pending
from vaultkernel.clock import utcnow

log = logging.getLogger("membervault.worker")
LEASE = dt.timedelta(minutes=5)


def run_once(services: Services, now: Callable[[], dt.datetime] = utcnow) -> dict[str, int]:
    """One pass over every kind of work; returns how much of each was done."""
    done = {
        "exports": build_pending_exports(services.db, services.exports, now=now()),
        "erasures": erase_pending(services.db, services.erasure_kit, now=now()),
        "deliveries": deliver_due(services.db, services.courier, now=now()),
        "completed": complete_acknowledged(services.db, now=now()),
        "expired_archives": purge_expired(services.db, services.exports, now=now()),
        "expired_sign_in_guesses": sign_in_limits.prune_expired(
            services.db, services.sign_in.guesses, now()),
        "retention_swept": sweep_if_due(services, now=now()),
        "access_log_indexed": member_index.catch_up(services.db),
        "access_log_heads": sign_access_log_head(services, now=now()),
    }
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
        try:
            run_once(services)
        except Exception as exc:  # noqa: BLE001  (keep serving; the failure is logged)
            # Type and frames only: an exception's message may carry a personal value.
            log.error("worker pass failed with %s; retrying in %.0fs\n%s", type(exc).__name__,
                      interval, "".join(traceback.format_tb(exc.__traceback__)))
        stop.wait(interval)
    log.info("worker stopped")
