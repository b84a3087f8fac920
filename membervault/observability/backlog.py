"""Backlogs read from the database at scrape time: job queues and their ages, requests
due soon and overdue, the last retention sweep, the access log entries not yet in its
per-member index (the worker's).

Read, not counted: whichever process did the work (a server, the separate worker, a
``membervault`` command), the numbers are the database's, the same from every server
process. A scrape costs a handful of aggregate queries over indexed columns.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from audit import member_index
from audit.models import AccessLogEntry, AuditEvent
from outbox.models import Delivery, OutboxEvent
from retention.sweeper import ACTOR as SWEEPER
from subject_requests.access import BUILDABLE_STATES
from subject_requests.erasure import ERASABLE_STATES
from subject_requests.lifecycle import CLOCKED_STATES
from subject_requests.models import DataSubjectRequest
from vaultkernel.clock import Clock
from vaultkernel.database import Database

log = logging.getLogger("membervault.metrics")
DUE_SOON = dt.timedelta(days=7)
QUEUES = ("exports", "erasures", "deliveries", "dead_letters")


class Backlog(Collector):
    def __init__(self, db: Database, clock: Clock):
        self.db = db
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock.now()
        with self.db.unit_of_work() as uow:
            yield from self._queues(uow.session, now)
            yield from self._requests(uow.session, now)
            yield from self._sweep(uow.session)
        yield from self._access_log()

    def _queues(self, session: Session, now: dt.datetime) -> Iterator[Metric]:
        depth = GaugeMetricFamily("membervault_jobs_queued", "Work waiting for the worker: "
                                  "access requests to export, erasure requests to carry "
                                  "out, webhook deliveries pending, deliveries dead",
                                  labels=["queue"])
        age = GaugeMetricFamily("membervault_jobs_oldest_age_seconds", "Age of the oldest "
                                "waiting item: since the request was received, since the "
                                "delivery's attempt fell due, since a dead delivery's event",
                                labels=["queue"])
        for queue, (count, oldest) in zip(QUEUES, _queue_rows(session, now), strict=True):
            depth.add_metric([queue], count)
            age.add_metric([queue], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        yield depth
        yield age

    def _requests(self, session: Session, now: dt.datetime) -> Iterator[Metric]:
        overdue = GaugeMetricFamily("membervault_requests_overdue", "Open data subject "
                                    "requests past their due date (clock running)",
                                    labels=["type"])
        due_soon = GaugeMetricFamily("membervault_requests_due_soon", "Open data subject "
                                     "requests due within 7 days, not yet overdue",
                                     labels=["type"])
        running = (DataSubjectRequest.state.in_(CLOCKED_STATES),
                   DataSubjectRequest.paused_since.is_(None))
        late = dict(_by_type(session, *running, DataSubjectRequest.due_at < now))
        soon = dict(_by_type(session, *running, DataSubjectRequest.due_at >= now,
                             DataSubjectRequest.due_at <= now + DUE_SOON))
        for type_ in sorted(set(late) | set(soon)):
            overdue.add_metric([type_], late.get(type_, 0))
            due_soon.add_metric([type_], soon.get(type_, 0))
        yield overdue
        yield due_soon

    def _sweep(self, session: Session) -> Iterator[Metric]:
        when = GaugeMetricFamily("membervault_retention_last_sweep_timestamp_seconds",
                                 "When the last full retention sweep ran (Unix time)")
        rows = GaugeMetricFamily("membervault_retention_last_sweep_rows", "Rows the last "
                                 "full retention sweep affected, by rule", labels=["rule"])
        failed = GaugeMetricFamily("membervault_retention_last_sweep_failed_rules",
                                   "Rules that failed in the last full retention sweep")
        last = session.execute(
            select(AuditEvent.at, AuditEvent.details)
            .where(AuditEvent.action == "retention.sweep", AuditEvent.actor == SWEEPER)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1)).first()
        if last is not None:
            details: dict[str, Any] = last.details or {}
            when.add_metric([], last.at.timestamp())
            for rule, count in sorted((details.get("counts") or {}).items()):
                rows.add_metric([str(rule)], int(count))
            failed.add_metric([], len(details.get("failed") or []))
        yield when
        yield rows
        yield failed

    def _access_log(self) -> Iterator[Metric]:
        unindexed = GaugeMetricFamily(
            "membervault_access_log_unindexed_entries", "Access log entries the worker has "
            "not yet added to the per-member index; per-member questions (who read my "
            "data, exports, the officer's member filter) read these by their text")
        # On its own: when the log cannot be read, the scrape still answers (with the
        # write failures the reads meet then), without this gauge.
        try:
            with self.db.unit_of_work() as uow:
                newest = uow.session.scalar(select(func.max(AccessLogEntry.sequence))) or 0
                behind = newest - member_index.indexed_through(uow.session)
        except DBAPIError as exc:
            log.warning("access log backlog not read: %s", type(exc).__name__)
            return
        unindexed.add_metric([], max(behind, 0))
        yield unindexed


def _queue_rows(session: Session, now: dt.datetime
                ) -> list[tuple[int, dt.datetime | None]]:
    def requests(type_: str, states: tuple[str, ...]) -> tuple[int, dt.datetime | None]:
        row = session.execute(
            select(func.count(), func.min(DataSubjectRequest.received_at))
            .where(DataSubjectRequest.type == type_,
                   DataSubjectRequest.state.in_(states))).one()
        return int(row[0]), row[1]

    pending = session.scalar(select(func.count()).where(Delivery.state == "pending"))
    due = session.scalar(select(func.min(Delivery.next_attempt_at))
                         .where(Delivery.state == "pending", Delivery.next_attempt_at <= now))
    dead = session.execute(
        select(func.count(), func.min(OutboxEvent.created_at)).select_from(Delivery)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(Delivery.state == "dead")).one()
    return [requests("access", BUILDABLE_STATES), requests("erasure", ERASABLE_STATES),
            (int(pending or 0), due), (int(dead[0]), dead[1])]


def _by_type(session: Session, *conditions: Any) -> list[tuple[str, int]]:
    rows = session.execute(select(DataSubjectRequest.type, func.count())
                           .where(*conditions).group_by(DataSubjectRequest.type))
    return [(str(t), int(n)) for t, n in rows]
