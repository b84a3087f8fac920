"""Who must learn about a change: the active clients with a webhook registered for one of
the purposes that may have given them data (which purposes those are for a member is
for ``consent.notify`` to say)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.models import Client


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
