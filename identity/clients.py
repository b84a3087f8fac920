"""Clients, officers and admins: principals that authenticate with client credentials.

Secrets are 256-bit random values generated here and shown once. Because they carry full
entropy, a keyed SHA-256 (HMAC under a key derived from the keyring) is a sufficient and
fast verifier; a slow password hash protects low-entropy human passwords, which these
are not.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit import trail
from identity import registrations
from identity.errors import IdentityError
from identity.models import Client

CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
PRINCIPAL_ROLES = ("client", "officer", "admin")


class SecretHasher:
    def __init__(self, derive: Callable[[str], bytes]):
        self._key = derive("client-secret")

    def hash(self, secret: str) -> bytes:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).digest()

    def matches(self, secret: str, stored: bytes) -> bool:
        return hmac.compare_digest(self.hash(secret), stored)


def create_client(session: Session, hasher: SecretHasher, *, client_id: str, name: str,
                  kind: str, role: str, purposes: Iterable[str], known_purposes: Iterable[str],
                  actor: str, collects_consent: bool = False) -> str:
    """Register a principal and return its secret (shown once, stored hashed)."""
    if not CLIENT_ID.match(client_id):
        raise IdentityError("client id must be 3-64 of a-z 0-9 . _ -", field="client_id",
                            code="INVALID_CLIENT_ID")
    if role not in PRINCIPAL_ROLES:
        raise IdentityError(f"role must be one of {', '.join(PRINCIPAL_ROLES)}", field="role",
                            code="INVALID_ROLE")
    purposes = sorted(set(purposes))
    unknown = sorted(set(purposes) - set(known_purposes))
    if unknown:
        raise IdentityError(f"unknown purposes: {', '.join(unknown)}", field="purposes",
                            code="UNKNOWN_PURPOSE")
    if role != "client" and (purposes or collects_consent):
        raise IdentityError("officers and admins do not declare purposes", field="purposes",
                            code="PURPOSES_NOT_ALLOWED")
    if session.get(Client, client_id) is not None:
        raise IdentityError("a client with this id exists", field="client_id",
                            code="DUPLICATE_CLIENT")
    secret = secrets.token_urlsafe(32)
    session.add(Client(client_id=client_id, name=name, kind=kind, role=role,
                       secret_hash=hasher.hash(secret), allowed_purposes=purposes,
                       collects_consent=collects_consent))
    registrations.changed(session, client_id)
    trail.record(session, actor, "client.created", client_id=client_id, role=role,
                 purposes=purposes, collects_consent=collects_consent)
    return secret


def reset_secret(session: Session, hasher: SecretHasher, client_id: str, *, actor: str) -> str:
    client = session.get(Client, client_id)
    if client is None:
        raise IdentityError("no such client", field="client_id", code="NOT_FOUND")
    secret = secrets.token_urlsafe(32)
    client.secret_hash = hasher.hash(secret)
    trail.record(session, actor, "client.secret_reset", client_id=client_id)
    return secret


def set_active(session: Session, client_id: str, active: bool, *, actor: str) -> None:
    client = session.get(Client, client_id)
    if client is None:
        raise IdentityError("no such client", field="client_id", code="NOT_FOUND")
    client.active = active
    registrations.changed(session, client_id)
    trail.record(session, actor, "client.enabled" if active else "client.disabled",
                 client_id=client_id)


def registered_for(session: Session, purposes: Iterable[str]) -> dict[str, list[Client]]:
    """The active clients registered for each purpose (who may receive its data), by client
    id; a purpose no client declares maps to an empty list."""
    wanted = set(purposes)
    found: dict[str, list[Client]] = {purpose: [] for purpose in wanted}
    for client in session.scalars(select(Client).where(Client.role == "client",
                                                       Client.active.is_(True))
                                  .order_by(Client.client_id)):
        for purpose in wanted & set(client.allowed_purposes or ()):
            found[purpose].append(client)
    return found


CHANNEL_OF_KIND = {"store": "store", "app": "app"}


def consent_channel(session: Session, client_id: str | None) -> str | None:
    """The channel a consent-collecting client records under, or None if it may not."""
    client = session.get(Client, client_id) if client_id else None
    if client is None or not client.active or not client.collects_consent:
        return None
    return CHANNEL_OF_KIND.get(client.kind, "api")
