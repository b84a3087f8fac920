"""AES-256-GCM sealing, the one way anything is encrypted here.

A sealed value is ``nonce (12 bytes) || ciphertext || tag``. Associated data binds it to
where it belongs (a member and field, a client, a principal), so a sealed value moved
elsewhere fails to open instead of decrypting. One :class:`Sealer` per key: building the
AES-GCM object once costs ~1 us less per value than building it per call.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32


class TamperedCiphertext(Exception):
    """A sealed value failed authentication: tampering or the wrong key. Never silent."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


class Sealer:
    """Seals and opens values under one key.

    >>> sealer = Sealer(new_key())
    >>> sealer.open(sealer.seal(b"42", b"where"), b"where", "the answer")
    b'42'
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, aad: bytes | None = None) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes | None = None, what: str = "value") -> bytes:
        """The plaintext; :class:`TamperedCiphertext` naming ``what`` (never the value)."""
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise TamperedCiphertext(f"sealed {what} failed authentication") from None

    def seal_at(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Seal under a nonce the caller derives (the chunked archive format), no prefix."""
        return self._aead.encrypt(nonce, plaintext, aad)

    def open_at(self, nonce: bytes, sealed: bytes, aad: bytes, what: str = "value") -> bytes:
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except (InvalidTag, ValueError):
            raise TamperedCiphertext(f"sealed {what} failed authentication") from None
