"""Who must learn about a change: the clients whose purposes may have given them data."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.models import ConsentRecord
from identity.models import Client
from vaultkernel.policy import Policy


def purposes_with_data(session: Session, policy: Policy, member_id: uuid.UUID) -> set[str]:
    """Purposes under which the member's data may have been read: every non-consent
    purpose, and each consent purpose the member ever granted."""
    granted = set(session.scalars(
        select(ConsentRecord.purpose).where(ConsentRecord.member_id == member_id,
                                            ConsentRecord.granted.is_(True)).distinct()))
    return {p.key for p in policy.purposes.values() if not p.consent_based} | granted


def subscribers(session: Session) -> list[tuple[str, frozenset[str]]]:
    """Active clients with a webhook, with their purposes (one query; reusable per batch)."""
    rows = session.execute(select(Client.client_id, Client.allowed_purposes).where(
        Client.active.is_(True), Client.webhook_url.is_not(None), Client.role == "client"))
    return [(client_id, frozenset(purposes)) for client_id, purposes in rows]


def recipients(session: Session, purposes: set[str],
               among: list[tuple[str, frozenset[str]]] | None = None) -> list[str]:
    """Active clients with a webhook whose registration includes one of the purposes."""
    table = subscribers(session) if among is None else among
    return sorted(client_id for client_id, allowed in table if purposes & allowed)
