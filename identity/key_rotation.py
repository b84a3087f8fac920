"""KEK rotation: re-wrap every data key (and signing key) under the newest KEK version.

Data is never re-encrypted: only the small wrapped keys change, in bounded batches, so
a rotation can be interrupted and simply run again.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select, update

from identity import signing_keys
from identity.encryption import data_key_aad
from identity.keyring import KeyEncryptionKeys
from identity.models import Member, SigningKey
from vaultkernel.database import Database

BATCH = 500
# Told (re-wrapped so far, how many were waiting when the rotation began) after each batch.
Progress = Callable[[int, int], None]


def rewrap_all(db: Database, keks: KeyEncryptionKeys, progress: Progress | None = None) -> int:
    """Re-wrap every data key not under the active KEK version; returns how many."""
    total = 0
    active = keks.active_version
    waiting = keys_not_under(db, active) if progress is not None else 0
    while True:
        with db.unit_of_work() as uow:
            rows = uow.session.execute(
                select(Member.id, Member.kek_version, Member.wrapped_key)
                .where(Member.wrapped_key.is_not(None), Member.kek_version != active)
                .limit(BATCH)
            ).all()
            if not rows:
                total += signing_keys.rewrap(uow.session, keks)
                uow.commit()
                if progress is not None:
                    progress(total, max(waiting, total))
                return total
            params = []
            for member_id, version, wrapped in rows:
                aad = data_key_aad(member_id)
                data_key = keks.unwrap(int(version or 0), bytes(wrapped or b""), aad)
                new_version, new_wrapped = keks.wrap(data_key, aad)
                params.append({"id": member_id, "kek_version": new_version,
                               "wrapped_key": new_wrapped})
            # ORM bulk UPDATE by primary key: one executemany per batch.
            uow.session.execute(update(Member), params)
            uow.commit()
            total += len(rows)
            if progress is not None:
                progress(total, max(waiting, total))


def keys_under(db: Database, version: int) -> int:
    """How many data and signing keys are still wrapped by a KEK version."""
    return _count_keys(db, version, under=True)


def keys_not_under(db: Database, version: int) -> int:
    """How many data and signing keys a rotation to ``version`` still has to re-wrap."""
    return _count_keys(db, version, under=False)


def _count_keys(db: Database, version: int, *, under: bool) -> int:
    member_is = Member.kek_version == version if under else Member.kek_version != version
    key_is = SigningKey.kek_version == version if under else SigningKey.kek_version != version
    with db.unit_of_work() as uow:
        members = uow.session.scalar(select(func.count()).select_from(Member)
                                     .where(member_is, Member.wrapped_key.is_not(None)))
        keys = uow.session.scalar(select(func.count()).select_from(SigningKey).where(key_is))
    return int(members or 0) + int(keys or 0)
