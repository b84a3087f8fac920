"""Erasure requests (GDPR Art. 17 and 19): the request's part of an erasure.

The worker claims erasure requests (``erase_pending``) and handles each in ONE
transaction (``erase_request``): a member under legal hold gets the request denied; a
member already erased (or never held) only moves the request on; otherwise the member is
erased by :func:`retention.shredding.erase_members`, the one erasure that the retention
sweep uses too (crypto-shredding, suppression hash, deletions, ``member.erased`` to every
client that may hold the member's data, the audit-trail record), and the request moves to
``waiting_for_recipients`` (or ``completed`` when nobody is to be told). A crash before
the commit leaves the member as they were (the lease lapses and the next pass starts
over); after the commit nothing is left to do but what ``complete_acknowledged`` does
once every recipient has acknowledged.

See docs/erasure.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
import uuid
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from audit import trail
from export import requests
from export.models import DataSubjectRequest
from identity.models import Member
from outbox.models import Delivery, OutboxEvent
from retention import holds
from retention.shredding import EVENT, ErasureCause, ErasureKit, erase_members
from vaultkernel.database import Database, UnitOfWork
from vaultkernel.jobs import claim

log = logging.getLogger("membervault.erasure")

ACTOR = "system:erasure"
LEASE = dt.timedelta(minutes=5)
BATCH = 20
ERASABLE_STATES = ("in_progress", "extended")


# --------------------------------------------------------------------------------------
# Claiming and erasing


def erase_pending(db: Database, kit: ErasureKit, now: dt.datetime) -> int:
    """Erase (or, under a legal hold, deny) every claimable erasure request; returns how
    many requests changed state. Each request is its own transaction; one that fails is
    logged (type and frames, never a value) and retried when its lease ends."""
    with db.unit_of_work() as uow:
        claimed = [r.id for r in claim(
            uow.session, DataSubjectRequest, DataSubjectRequest.type == "erasure",
            DataSubjectRequest.state.in_(ERASABLE_STATES), lease=LEASE, limit=BATCH,
            order_by=DataSubjectRequest.due_at, now=now)]
        uow.commit()
    done = shredded = 0
    for request_id in claimed:
        try:
            with db.unit_of_work() as uow:
                outcome = erase_request(uow, kit, request_id, now=now)
        except Exception as exc:  # noqa: BLE001  (the next pass retries; the rest go on)
            log.error("erasure of request %s failed with %s; retried after its lease\n%s",
                      request_id, type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)))
            continue
        done += outcome != "skipped"
        shredded += outcome == "erased"
    if shredded:
        checkpoint_wal(db)
    return done


def erase_request(uow: UnitOfWork, kit: ErasureKit, request_id: uuid.UUID, *,
                  now: dt.datetime) -> str:
    """Carry out one erasure request and commit. Returns ``erased``, ``denied`` (legal
    hold), ``finished`` (nothing left to erase: the state is moved on) or ``skipped`` (no
    longer an erasure to do; nothing is committed)."""
    session = uow.session
    request = session.get(DataSubjectRequest, request_id, with_for_update=True,
                          populate_existing=True)
    if request is None or request.type != "erasure" or request.state not in ERASABLE_STATES:
        return "skipped"
    request.lease_until = None
    hold = holds.active_hold(session, request.member_id, now)
    if hold is not None:
        requests.deny(session, request, "LEGAL_HOLD", hold.reason, actor=ACTOR, now=now)
        trail.record(session, ACTOR, "erasure.denied", request.member_id,
                     request_id=str(request.id), code="LEGAL_HOLD", hold_id=str(hold.id))
        uow.commit()
        log.info("erasure request %s denied: member under legal hold %s", request.id, hold.id)
        return "denied"
    member = session.get(Member, request.member_id, with_for_update=True,
                         populate_existing=True)
    if member is None or member.status == "erased":
        _finish(session, request, now=now,
                reason="no member data held" if member is None else "member already erased")
        uow.commit()
        return "finished"
    (report,) = erase_members(session, kit, [member.id], now=now,
                              cause=ErasureCause.request(request.id))
    to_notify = report.recipients
    if to_notify:
        requests.advance(session, request, "waiting_for_recipients", actor=ACTOR,
                         reason=f"erased; waiting for {len(to_notify)} recipient(s)", now=now)
    else:
        requests.advance(session, request, "completed", actor=ACTOR,
                         reason="erased; no recipient to notify", now=now)
    uow.commit()
    log.info("member of request %s erased; %d recipient(s) notified", request_id, len(to_notify))
    return "erased"


def _finish(session: Session, request: DataSubjectRequest, *, now: dt.datetime,
            reason: str) -> None:
    """Move a request on whose member holds nothing left to erase."""
    if pending_acknowledgements(session, request.id):
        requests.advance(session, request, "waiting_for_recipients", actor=ACTOR,
                         reason=reason, now=now)
    else:
        requests.advance(session, request, "completed", actor=ACTOR, reason=reason, now=now)


def checkpoint_wal(db: Database) -> None:
    """SQLite: copy the WAL into the database and truncate it, so page images written
    before an erasure (wrapped keys, ciphertexts, blind indexes) do not linger in the
    -wal file. ``secure_delete`` already zeroes freed space in the database pages."""
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as connection:
        row = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
    if row is not None and row[0]:
        log.warning("WAL checkpoint after erasure was blocked by a reader; the next "
                    "erasure pass (or SQLite's automatic checkpoint) completes it")


# --------------------------------------------------------------------------------------
# Acknowledgements


def _erasure_deliveries(request_id: Any) -> Any:
    return (select(Delivery)
            .join(OutboxEvent, Delivery.event_id == OutboxEvent.id)
            .where(OutboxEvent.request_id == request_id, OutboxEvent.type == EVENT))


def deliveries_of(session: Session, request_id: uuid.UUID) -> list[Delivery]:
    """Every delivery of the request's ``member.erased`` event, by client."""
    return list(session.scalars(_erasure_deliveries(request_id)
                                .order_by(Delivery.client_id, Delivery.id)))


def pending_acknowledgements(session: Session, request_id: uuid.UUID) -> list[str]:
    """The clients that have not yet acknowledged the erasure of this request."""
    query = (select(Delivery.client_id)
             .join(OutboxEvent, Delivery.event_id == OutboxEvent.id)
             .where(OutboxEvent.request_id == request_id, OutboxEvent.type == EVENT,
                    Delivery.acknowledged_at.is_(None))
             .distinct().order_by(Delivery.client_id))
    return list(session.scalars(query))


def complete_acknowledged(db: Database, now: dt.datetime) -> int:
    """Complete every erasure request whose recipients have all acknowledged, and drop
    the sealed member number of its event; returns how many were completed."""
    unacknowledged = (select(Delivery.id)
                      .join(OutboxEvent, Delivery.event_id == OutboxEvent.id)
                      .where(OutboxEvent.request_id == DataSubjectRequest.id,
                             OutboxEvent.type == EVENT, Delivery.acknowledged_at.is_(None)))
    completed = 0
    while True:
        with db.unit_of_work() as uow:
            session = uow.session
            batch = list(session.scalars(
                select(DataSubjectRequest)
                .where(DataSubjectRequest.type == "erasure",
                       DataSubjectRequest.state == "waiting_for_recipients",
                       ~exists(unacknowledged))
                .order_by(DataSubjectRequest.id).limit(BATCH)
                .with_for_update(skip_locked=True, of=DataSubjectRequest)))
            for request in batch:
                requests.advance(session, request, "completed", actor=ACTOR,
                                 reason="every recipient acknowledged", now=now)
                session.execute(update(OutboxEvent)
                                .where(OutboxEvent.request_id == request.id,
                                       OutboxEvent.type == EVENT)
                                .values(sealed_member_number=None)
                                .execution_options(synchronize_session=False))
                trail.record(session, ACTOR, "erasure.completed", request.member_id,
                             request_id=str(request.id))
            uow.commit()
        completed += len(batch)
        if len(batch) < BATCH:
            break
    if completed:
        checkpoint_wal(db)
    return completed
