"""Per-member field encryption (AES-256-GCM) and keyed blind indexes (HMAC-SHA256).

Each stored value is ``nonce (12 bytes) || ciphertext || tag``, with the member id and
the field name as associated data, so a ciphertext moved to another member or another
field fails authentication instead of decrypting.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Callable

from identity.keyring import KeyEncryptionKeys
from vaultkernel.sealing import KEY_BYTES, Sealer


def new_data_key() -> bytes:
    return os.urandom(KEY_BYTES)


def data_key_aad(member_id: uuid.UUID) -> bytes:
    return b"membervault:data-key:" + member_id.bytes


class MemberCipher:
    """Encrypts and decrypts one member's attributes with their data key."""

    __slots__ = ("_sealer", "_member_prefix")

    def __init__(self, member_id: uuid.UUID, data_key: bytes):
        self._sealer = Sealer(data_key)
        self._member_prefix = member_id.bytes

    @classmethod
    def unwrap(cls, keks: KeyEncryptionKeys, member_id: uuid.UUID, kek_version: int,
               wrapped_key: bytes) -> MemberCipher:
        return cls(member_id, keks.unwrap(kek_version, wrapped_key, data_key_aad(member_id)))

    def encrypt(self, field: str, value: str) -> bytes:
        return self._sealer.seal(value.encode(), self._member_prefix + field.encode())

    def decrypt(self, field: str, blob: bytes) -> str:
        return self._sealer.open(blob, self._member_prefix + field.encode(),
                                 f"ciphertext of field {field}").decode()


class BlindIndex:
    """Keyed equality index: HMAC-SHA256 of a normalised value, one sub-key per kind."""

    __slots__ = ("_keys",)

    KINDS = ("email", "phone", "member_number")

    def __init__(self, derive: Callable[[str], bytes]):
        self._keys = {kind: derive(f"blind-index:{kind}") for kind in self.KINDS}

    def digest(self, kind: str, normalised: str) -> bytes:
        return hmac.new(self._keys[kind], normalised.encode(), hashlib.sha256).digest()


SUPPRESSION_KEY = "suppression"


class MemberCrypto:
    """Everything needed to seal and open members: the KEKs, the blind-index keys, and
    the key of the marketing suppression list's address hashes (``identity.suppression``)."""

    def __init__(self, keks: KeyEncryptionKeys, derive: Callable[[str], bytes]):
        self.keks = keks
        self.index = BlindIndex(derive)
        self.suppression_key = derive(SUPPRESSION_KEY)

    def new_member(self, member_id: uuid.UUID) -> tuple[MemberCipher, int, bytes]:
        data_key = new_data_key()
        version, wrapped = self.keks.wrap(data_key, data_key_aad(member_id))
        return MemberCipher(member_id, data_key), version, wrapped

    def cipher(self, member_id: uuid.UUID, kek_version: int, wrapped_key: bytes) -> MemberCipher:
        return MemberCipher.unwrap(self.keks, member_id, kek_version, wrapped_key)
