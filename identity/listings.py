"""What an operator lists: the registered principals, the key-encryption key versions
with how many keys each wraps, and the token signing keys. Registration and key
metadata only: no member value, no secret, no key material."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from identity.models import Client, Member, SigningKey


@dataclass(frozen=True)
class PrincipalEntry:
    """A client, officer or admin as registered (``membervault client list``)."""

    client_id: str
    name: str
    kind: str
    role: str
    active: bool
    collects_consent: bool
    purposes: tuple[str, ...]
    has_webhook: bool  # not its URL, which may carry a credential
    created_at: dt.datetime


@dataclass(frozen=True)
class KekVersion:
    version: int
    active: bool
    keys_wrapped: int  # member data keys and signing keys wrapped by this version


@dataclass(frozen=True)
class SigningKeyEntry:
    kid: str
    algorithm: str
    state: str  # active | published | retired
    created_at: dt.datetime
    retired_at: dt.datetime | None


@dataclass(frozen=True)
class KeyInventory:
    """``membervault keys list``."""

    kek_versions: list[KekVersion]
    signing_keys: list[SigningKeyEntry]


def principals(session: Session) -> list[PrincipalEntry]:
    return [PrincipalEntry(client_id=row.client_id, name=row.name, kind=row.kind, role=row.role,
                           active=bool(row.active), collects_consent=bool(row.collects_consent),
                           purposes=tuple(row.allowed_purposes or ()),
                           has_webhook=row.webhook_url is not None, created_at=row.created_at)
            for row in session.scalars(select(Client).order_by(Client.client_id))]


def keys_wrapped_by_version(session: Session) -> dict[int, int]:
    """How many data keys and signing keys each KEK version wraps (two grouped counts)."""
    counts: dict[int, int] = {}
    members = (select(Member.kek_version, func.count()).where(Member.wrapped_key.is_not(None))
               .group_by(Member.kek_version))
    signing = select(SigningKey.kek_version, func.count()).group_by(SigningKey.kek_version)
    for query in (members, signing):
        for version, count in session.execute(query):
            if version is not None:
                counts[int(version)] = counts.get(int(version), 0) + int(count)
    return counts


def key_inventory(session: Session, versions: Iterable[int], active: int) -> KeyInventory:
    wrapped = keys_wrapped_by_version(session)
    keks = [KekVersion(version=v, active=v == active, keys_wrapped=wrapped.get(v, 0))
            for v in sorted(versions)]
    signing = [SigningKeyEntry(kid=row.kid, algorithm=row.algorithm,
                               state=_signing_state(row), created_at=row.created_at,
                               retired_at=row.retired_at)
               for row in session.scalars(select(SigningKey).order_by(SigningKey.created_at,
                                                                      SigningKey.kid))]
    return KeyInventory(kek_versions=keks, signing_keys=signing)


def _signing_state(row: SigningKey) -> str:
    if row.active:
        return "active"
    return "retired" if row.retired_at is not None else "published"
