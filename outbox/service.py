"""Outbox use cases: each takes the unit of work, makes the whole change and commits."""

from __future__ import annotations

import datetime as dt
import uuid

from outbox import subscriptions, tracking
from outbox.addresses import PUBLIC_ONLY, AddressPolicy
from outbox.secrets import Derives
from vaultkernel.database import UnitOfWork


def acknowledge_event(uow: UnitOfWork, client_id: str, event_id: uuid.UUID, *,
                      now: dt.datetime) -> tracking.DeliveryRow:
    """The recipient has acted on an event sent to it (for ``member.erased``: it erased
    the member too). Idempotent; an event not addressed to it is ``NOT_FOUND``."""
    with uow.committing() as session:
        return tracking.acknowledge(session, client_id, event_id, now=now)


def replay_delivery(uow: UnitOfWork, delivery_id: int, *, actor: str,
                    now: dt.datetime) -> tracking.DeliveryRow:
    """Send a delivery again: pending, attempts reset, due now (in the audit trail)."""
    with uow.committing() as session:
        return tracking.replay(session, delivery_id, actor=actor, now=now)


def register_webhook(uow: UnitOfWork, keyring: Derives, client_id: str, url: str, *,
                     production: bool, actor: str,
                     addresses: AddressPolicy = PUBLIC_ONLY) -> str:
    """Register (or move) a client's webhook; returns its new signing secret, shown once."""
    with uow.committing() as session:
        return subscriptions.set_webhook(session, keyring, client_id, url,
                                         production=production, actor=actor,
                                         addresses=addresses)


def remove_webhook(uow: UnitOfWork, client_id: str, *, actor: str) -> bool:
    """Stop delivering events to a client; returns whether it had a webhook."""
    with uow.committing() as session:
        return subscriptions.remove_webhook(session, client_id, actor=actor)
