"""The language a member is written to in (mail): their ``preferredLanguage``.

Opened by the service itself to write to the member, as the retention sweep opens their
address to mail an inactivity notice; nothing is answered to anyone, so it is no read of
the access log. Unreadable (erased, a tampered value, a key gone): ``None``, and the
caller falls back (the language of the page asked from, then English).
"""

from __future__ import annotations

import uuid

from identity.encryption import MemberCrypto
from identity.errors import KeyringError
from vaultkernel.sealing import TamperedCiphertext


def preferred_language(crypto: MemberCrypto, member_id: uuid.UUID, kek_version: int | None,
                       wrapped_key: bytes | None, sealed: bytes | None) -> str | None:
    """The member's preferred language as they gave it (a BCP 47 tag), or ``None``."""
    if sealed is None or wrapped_key is None or kek_version is None:
        return None
    try:
        return crypto.cipher(member_id, kek_version, wrapped_key).decrypt(
            "preferred_language", sealed)
    except (TamperedCiphertext, KeyringError):
        return None
