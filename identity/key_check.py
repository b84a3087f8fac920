"""Does this keyring open this database's keys?

A development keyring is generated when its file is missing, and a keyring file can be
copied from another installation; either way nothing the database holds opens any more.
Starting like that would answer every read with an error (or, worse, write new members
under keys that do not match the old ones), so the start is refused instead.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.encryption import MemberCipher
from identity.errors import KeyringError
from identity.keyring import KeyEncryptionKeys
from identity.models import Member, SigningKey
from identity.signing_keys import private_key_aad
from vaultkernel.errors import DomainError
from vaultkernel.sealing import TamperedCiphertext


def foreign_keyring(session: Session, keks: KeyEncryptionKeys) -> str | None:
    """Why the keyring does not fit the data (``None``: it fits, or there is no data yet).
    Tries the newest signing key and the newest member's data key."""
    key = session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())
                          .limit(1)).first()
    member = session.scalars(select(Member).where(Member.wrapped_key.is_not(None))
                             .order_by(Member.created_at.desc()).limit(1)).first()
    try:
        if key is not None:
            keks.unwrap(key.kek_version, key.wrapped_private_key, private_key_aad(key.kid))
        if member is not None and member.kek_version is not None and member.wrapped_key:
            MemberCipher.unwrap(keks, member.id, member.kek_version, member.wrapped_key)
    except (TamperedCiphertext, KeyringError, DomainError, ValueError) as exc:
        return (f"the keyring does not open this database's keys ({type(exc).__name__}): "
                "it was generated anew or belongs to another installation; restore the "
                "keyring this database was created with")
    return None
