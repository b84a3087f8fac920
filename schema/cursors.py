"""Opaque pagination cursors: authenticated encryption of a position, bound to who asked.

A cursor reveals nothing (not even an internal id) and cannot be forged or replayed by
another client or for another purpose.
"""

from __future__ import annotations

import base64
import binascii
import uuid

from vaultkernel.errors import DomainError
from vaultkernel.sealing import Sealer, TamperedCiphertext


class InvalidCursor(DomainError):
    def __init__(self) -> None:
        super().__init__("INVALID_CURSOR", "the cursor is not valid here", field="after")


class Cursors:
    def __init__(self, key: bytes):
        self._sealer = Sealer(key)

    def encode(self, position: bytes, *, bound_to: str) -> str:
        sealed = self._sealer.seal(position, bound_to.encode())
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def decode(self, cursor: str, *, bound_to: str) -> bytes:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            # One spelling per cursor: base64 ignores a last character's spare bits, so a
            # changed spelling would otherwise open as the same cursor.
            if base64.urlsafe_b64encode(raw).decode().rstrip("=") != cursor:
                raise InvalidCursor()
            return self._sealer.open(raw, bound_to.encode(), "cursor")
        except (ValueError, binascii.Error, TamperedCiphertext):
            raise InvalidCursor() from None

    def encode_id(self, member_id: uuid.UUID, *, bound_to: str) -> str:
        return self.encode(member_id.bytes, bound_to=bound_to)

    def decode_id(self, cursor: str, *, bound_to: str) -> uuid.UUID:
        position = self.decode(cursor, bound_to=bound_to)
        if len(position) != 16:
            raise InvalidCursor()
        return uuid.UUID(bytes=position)

    def encode_int(self, value: int, *, bound_to: str) -> str:
        return self.encode(value.to_bytes(8, "big"), bound_to=bound_to)

    def decode_int(self, cursor: str, *, bound_to: str) -> int:
        return int.from_bytes(self.decode(cursor, bound_to=bound_to), "big")
