"""JWT signing keys: created, rolled over and retired; private halves wrapped by the KEK.

Rollover: ``roll`` makes a new active key; the previous one stays published in the JWKS
and keeps verifying until ``retire`` removes it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading

import orjson
from joserfc import jwk
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from identity.errors import IdentityError
from identity.keyring import KeyEncryptionKeys
from identity.models import SigningKey
from vaultkernel import database
from vaultkernel.clock import Clock, SystemClock, utcnow
from vaultkernel.database import Database

ALGORITHM = "ES256"
TOPIC = "signing-keys"


def private_key_aad(kid: str) -> bytes:
    return b"membervault:signing-key:" + kid.encode()


def create_key(session: Session, keks: KeyEncryptionKeys, *, active: bool) -> SigningKey:
    kid = secrets.token_hex(8)  # never starts with '-', so it is safe on a command line
    key = jwk.generate_key("EC", "P-256", parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})
    version, wrapped = keks.wrap(orjson.dumps(key.as_dict(private=True)), private_key_aad(kid))
    row = SigningKey(kid=kid, algorithm=ALGORITHM, public_jwk=key.as_dict(private=False),
                     kek_version=version, wrapped_private_key=wrapped, active=active)
    if active:
        session.execute(update(SigningKey).values(active=False))
    session.add(row)
    database.changed(session, TOPIC)
    return row


def ensure_active_key(session: Session, keks: KeyEncryptionKeys) -> None:
    if session.scalar(select(SigningKey.kid).where(SigningKey.active.is_(True))) is None:
        create_key(session, keks, active=True)


def roll(session: Session, keks: KeyEncryptionKeys) -> SigningKey:
    return create_key(session, keks, active=True)


def retire(session: Session, kid: str) -> None:
    row = session.get(SigningKey, kid)
    if row is None or row.retired_at is not None:
        raise IdentityError(f"no published signing key {kid}", field="kid", code="NOT_FOUND")
    if row.active:
        raise IdentityError("the active signing key cannot be retired; roll first",
                            field="kid", code="SIGNING_KEY_ACTIVE")
    row.retired_at = utcnow()
    database.changed(session, TOPIC)


def rewrap(session: Session, keks: KeyEncryptionKeys) -> int:
    count = 0
    for row in session.scalars(
        select(SigningKey).where(SigningKey.kek_version != keks.active_version)
    ):
        private = keks.unwrap(row.kek_version, row.wrapped_private_key, private_key_aad(row.kid))
        row.kek_version, row.wrapped_private_key = keks.wrap(private, private_key_aad(row.kid))
        count += 1
    return count


class SigningKeys:
    """A per-process cache of the published keys, reloaded when a kid is unknown or stale.

    A roll or retirement committed in this process is seen at once; one committed by
    another process (the command line) within ``REFRESH``.
    """

    REFRESH = dt.timedelta(seconds=5)
    # An unknown kid is looked up at once, but at most once a second.
    LOOKUP_AT_MOST_EVERY = dt.timedelta(seconds=1)

    def __init__(self, db: Database, keks: KeyEncryptionKeys, clock: Clock | None = None):
        self._db = db
        self._keks = keks
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._loaded_at: dt.datetime | None = None
        self._public: dict[str, ECKey] = {}
        self._active: ECKey | None = None
        self._active_row: SigningKey | None = None
        db.on_change(TOPIC, lambda _: self.invalidate())

    def _load(self) -> None:
        with self._db.unit_of_work() as uow:
            rows = uow.session.scalars(
                select(SigningKey).where(SigningKey.retired_at.is_(None))
            ).all()
        public = {r.kid: ECKey.import_key(dict(r.public_jwk)) for r in rows}
        active = next((r for r in rows if r.active), None)
        # The private half is unwrapped only when signing: verifying never needs the KEK.
        self._public, self._active_row, self._active = public, active, None
        self._loaded_at = self._clock.now()

    def _fresh(self, force: bool = False) -> None:
        with self._lock:
            if self._loaded_at is None:
                self._load()
                return
            age = self._clock.now() - self._loaded_at
            if age > self.REFRESH or (force and age > self.LOOKUP_AT_MOST_EVERY):
                self._load()

    def active(self) -> ECKey:
        self._fresh()
        with self._lock:
            row = self._active_row
            if row is None:
                raise RuntimeError("no active signing key; run 'membervault db upgrade'")
            if self._active is None or self._active.kid != row.kid:
                private = self._keks.unwrap(row.kek_version, row.wrapped_private_key,
                                            private_key_aad(row.kid))
                self._active = ECKey.import_key(orjson.loads(private))
            return self._active

    def publishes(self, kid: str) -> bool:
        """Whether the keys, loaded less than ``REFRESH`` ago, include ``kid``; from memory
        only (``False`` when they are stale: :meth:`public_key` reloads them)."""
        loaded_at = self._loaded_at
        return (loaded_at is not None and self._clock.now() - loaded_at <= self.REFRESH
                and kid in self._public)

    def public_key(self, kid: str) -> ECKey | None:
        self._fresh()
        if kid not in self._public:
            self._fresh(force=True)
        return self._public.get(kid)

    def jwks(self) -> dict[str, object]:
        self._fresh()
        return dict(KeySet(list(self._public.values())).as_dict(private=False))

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = None
