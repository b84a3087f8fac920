"""Retention use cases: each takes the unit of work, makes the whole change and commits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from audit.access_log import COMPLIANCE, ReaderLog
from audit.chain import Read
from identity.encryption import MemberCrypto
from identity.models import Client
from retention import activity, holds, ropa, sweeper
from retention.models import LegalHold
from vaultkernel.database import UnitOfWork
from vaultkernel.errors import DomainError
from vaultkernel.policy import Policy

# A client's clock may run a little ahead of ours.
CLOCK_SKEW = dt.timedelta(minutes=5)


def place_legal_hold(uow: UnitOfWork, member_id: uuid.UUID, reason: str, *, actor: str,
                     expires_at: dt.datetime | None, now: dt.datetime,
                     categories: Sequence[str] | None = None,
                     policy: Policy | None = None) -> LegalHold:
    """Place a legal hold on a member, keeping ``categories`` of the policy (all their
    personal data when none are named): retention skips them while it is active, and an
    erasure keeps (restricted) only what it covers; in the audit trail."""
    known = policy.categories if policy is not None else ()
    with uow.committing() as session:
        return holds.place(session, member_id, reason, actor, expires_at, now=now,
                           categories=categories, known_categories=known)


def lift_legal_hold(uow: UnitOfWork, hold_id: uuid.UUID, *, actor: str,
                    now: dt.datetime) -> LegalHold:
    """Lift a legal hold (lifting one already lifted changes nothing); in the audit trail."""
    with uow.committing() as session:
        return holds.lift(session, hold_id, actor, now=now)


def legal_holds_for_officer(uow: UnitOfWork, member_id: uuid.UUID, *,
                            log: ReaderLog) -> list[LegalHold]:
    """An officer's view of a member's legal holds, newest first: in the access log
    before it is returned."""
    found = holds.holds_of(uow.session, member_id)
    log.record(COMPLIANCE, [Read(member_id, ["legal_holds"])])
    return found


def last_sweep(uow: UnitOfWork) -> sweeper.LastSweep | None:
    """When the retention sweep last ran in full, what it did and what it skipped."""
    return sweeper.last_sweep(uow.session)


def record_activity(uow: UnitOfWork, crypto: MemberCrypto, member_numbers: Sequence[str], *,
                    at: dt.datetime | None, now: dt.datetime) -> int:
    """Members' latest activity (at most ``MAX_BATCH`` numbers; ``at`` defaults to now and
    may not lie in the future). Returns how many numbers were well-formed, which reveals
    nobody's membership."""
    if len(member_numbers) > activity.MAX_BATCH:
        raise DomainError("TOO_MANY", f"at most {activity.MAX_BATCH} member numbers per call",
                          field="memberNumbers")
    if at is not None and (at.tzinfo is None or at > now + CLOCK_SKEW):
        raise DomainError("INVALID_DATETIME", "at needs a time zone and cannot be in the future",
                          field="at")
    with uow.committing() as session:
        return activity.record_activity(session, crypto, member_numbers, at or now)


def record_of_processing(uow: UnitOfWork, policy: Policy) -> dict[str, Any]:
    """The record of processing activities (GDPR Art. 30) from the policy and every client
    registered in the database (active or not: Art. 30(1)(d) asks for the recipients data
    has been or will be disclosed to); reads only."""
    clients = [ropa.RegisteredClient(
        client_id=row.client_id, name=row.name, kind=row.kind,
        purposes=tuple(row.allowed_purposes or ()), active=bool(row.active),
        webhook=row.webhook_url is not None)
        for row in uow.session.execute(
            select(Client.client_id, Client.name, Client.kind, Client.allowed_purposes,
                   Client.active, Client.webhook_url)
            .where(Client.role == "client").order_by(Client.client_id))]
    return ropa.record_of_processing(policy, clients)
