"""What a client's registration allows now, as every bearer-token request asks: held in
memory for a few seconds instead of read from the database on each request.

A change committed in this process (a client created, enabled or disabled) takes effect on
the next request: the function making it calls :func:`changed`, and the cache forgets the
client once the change commits. A change committed by another process (the command line,
another server worker) takes effect once the cached copy is ``ttl`` old.

>>> Registration(active=True, purposes=frozenset({"marketing.email"})).may_declare(
...     "marketing.email")
True
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from identity.models import Client
from vaultkernel import database
from vaultkernel.clock import Clock
from vaultkernel.database import Database

TOPIC = "client-registration"


@dataclass(frozen=True)
class Registration:
    active: bool
    purposes: frozenset[str]

    def may_declare(self, purpose: str) -> bool:
        return self.active and purpose in self.purposes


NOT_REGISTERED = Registration(active=False, purposes=frozenset())

# Two table columns, not the entity (nor the ORM's compile step).
_CLIENTS = Client.__table__.c
_REGISTRATION = select(_CLIENTS.active, _CLIENTS.allowed_purposes).where(
    _CLIENTS.client_id == bindparam("client_id"))


def changed(session: Session, client_id: str) -> None:
    """The client's registration changes in this transaction (forgotten once it commits)."""
    database.changed(session, TOPIC, client_id)


def load(session: Session, client_id: str) -> Registration:
    row = session.execute(_REGISTRATION, {"client_id": client_id}).first()
    if row is None:
        return NOT_REGISTERED
    return Registration(active=bool(row.active), purposes=frozenset(row.allowed_purposes or ()))


class Registrations:
    """The per-process cache of registrations, one per process (built by the composition
    root). Safe to use from several threads."""

    TTL = dt.timedelta(seconds=5)
    MAX_ENTRIES = 10_000

    def __init__(self, db: Database, clock: Clock, ttl: dt.timedelta = TTL):
        self._db = db
        self._clock = clock
        self.ttl = ttl
        self._lock = threading.Lock()
        self._known: dict[str, tuple[dt.datetime, Registration]] = {}
        self._forgotten = 0  # counts forget() calls: a load that overlapped one is not kept
        db.on_change(TOPIC, self.forget)

    def fresh(self, client_id: str) -> Registration | None:
        """From memory, while less than ``ttl`` old; ``None`` when it must be read."""
        known = self._known.get(client_id)
        if known is None or self._clock.now() - known[0] >= self.ttl:
            return None
        return known[1]

    def of(self, client_id: str) -> Registration:
        """From memory, or read from the database (and kept for ``ttl``)."""
        known = self.fresh(client_id)
        if known is not None:
            return known
        loaded_at, forgotten = self._clock.now(), self._forgotten
        with self._db.unit_of_work() as uow:
            registration = load(uow.session, client_id)
        with self._lock:
            if forgotten == self._forgotten:  # else a change committed while we read
                if len(self._known) >= self.MAX_ENTRIES:
                    self._known.clear()
                self._known[client_id] = (loaded_at, registration)
        return registration

    def may_declare(self, client_id: str | None, purpose: str) -> bool:
        """Whether the client's current registration (not only its token) allows a purpose."""
        return bool(client_id) and self.of(str(client_id)).may_declare(purpose)

    def forget(self, client_id: str | None) -> None:
        with self._lock:
            self._forgotten += 1
            if client_id is None:
                self._known.clear()
            else:
                self._known.pop(client_id, None)
