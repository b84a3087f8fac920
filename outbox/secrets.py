"""Sealing what the outbox must keep but never store in the clear.

Both use AES-256-GCM under a sub-key derived from the keyring, stored as
``nonce (12 bytes) || ciphertext || tag``:

- a client's webhook signing secret, under ``derive("webhook-secret")``, with the client id
  as associated data (a sealed secret copied to another client fails to open);
- the member number of a ``member.erased`` event, under ``derive("outbox-member-number")``,
  without associated data: captured by the erasure before the member's keys are destroyed,
  opened here at delivery time, and dropped once every recipient has acknowledged.
"""

from __future__ import annotations

from typing import Protocol

from vaultkernel.sealing import Sealer

WEBHOOK_SECRET_PURPOSE = "webhook-secret"  # noqa: S105  (a key-derivation label)
MEMBER_NUMBER_PURPOSE = "outbox-member-number"


class Derives(Protocol):
    def derive(self, purpose: str) -> bytes: ...


def _seal(key: bytes, plaintext: str, aad: bytes | None) -> bytes:
    return Sealer(key).seal(plaintext.encode(), aad)


def _open(key: bytes, sealed: bytes, aad: bytes | None, what: str) -> str:
    return Sealer(key).open(sealed, aad, what).decode()


def _secret_aad(client_id: str) -> bytes:
    return b"membervault:webhook-secret:" + client_id.encode()


def seal_webhook_secret(keyring: Derives, client_id: str, secret: str) -> bytes:
    return _seal(keyring.derive(WEBHOOK_SECRET_PURPOSE), secret, _secret_aad(client_id))


def open_webhook_secret(keyring: Derives, client_id: str, sealed: bytes) -> str:
    return _open(keyring.derive(WEBHOOK_SECRET_PURPOSE), sealed, _secret_aad(client_id),
                 "webhook secret")


def seal_member_number(keyring: Derives, number: str) -> bytes:
    """For the erasure: the number recipients know the member by, kept sealed until they
    have all acknowledged the ``member.erased`` event."""
    return _seal(keyring.derive(MEMBER_NUMBER_PURPOSE), number, None)


def open_member_number(keyring: Derives, sealed: bytes) -> str:
    return _open(keyring.derive(MEMBER_NUMBER_PURPOSE), sealed, None, "member number")
