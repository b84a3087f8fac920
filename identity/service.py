"""Use cases for principals (clients, officers, admins) and token signing keys: each
takes the unit of work, makes the whole change (audit trail included) and commits."""

from __future__ import annotations

from collections.abc import Iterable

from identity import clients, listings, signing_keys
from identity.clients import SecretHasher
from identity.keyring import KeyEncryptionKeys, Keyring
from identity.listings import KeyInventory, PrincipalEntry
from identity.models import SigningKey
from vaultkernel.database import UnitOfWork


def create_principal(uow: UnitOfWork, hasher: SecretHasher, *, client_id: str, name: str,
                     kind: str, role: str, purposes: Iterable[str],
                     known_purposes: Iterable[str], actor: str,
                     collects_consent: bool = False) -> str:
    """Register a client, officer or admin; returns its secret (shown once, kept hashed)."""
    with uow.committing() as session:
        return clients.create_client(session, hasher, client_id=client_id, name=name,
                                     kind=kind, role=role, purposes=purposes,
                                     known_purposes=known_purposes, actor=actor,
                                     collects_consent=collects_consent)


def reset_principal_secret(uow: UnitOfWork, hasher: SecretHasher, client_id: str, *,
                           actor: str) -> str:
    """A new secret for a principal; the old one stops working at once."""
    with uow.committing() as session:
        return clients.reset_secret(session, hasher, client_id, actor=actor)


def set_principal_active(uow: UnitOfWork, client_id: str, active: bool, *,
                         actor: str) -> None:
    """Enable or disable a principal (a disabled one gets no tokens, and its live tokens
    are refused)."""
    with uow.committing() as session:
        clients.set_active(session, client_id, active, actor=actor)


def roll_signing_key(uow: UnitOfWork, keks: KeyEncryptionKeys) -> SigningKey:
    """A new active token signing key; the old one keeps verifying until retired."""
    with uow.committing() as session:
        return signing_keys.roll(session, keks)


def retire_signing_key(uow: UnitOfWork, kid: str) -> None:
    """Stop publishing (and accepting tokens signed by) an old signing key."""
    with uow.committing() as session:
        signing_keys.retire(session, kid)


def list_principals(uow: UnitOfWork) -> list[PrincipalEntry]:
    """Every registered client, officer and admin, by id (reads only)."""
    return listings.principals(uow.session)


def key_inventory(uow: UnitOfWork, keyring: Keyring) -> KeyInventory:
    """The keyring's KEK versions with how many keys each wraps, and the signing keys
    (reads only)."""
    return listings.key_inventory(uow.session, keyring.versions, keyring.active)
