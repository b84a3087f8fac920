"""The per-request GraphQL context: the principal, what resolvers depend on, and one unit
of work (opened on first use, rolled back and closed when the request ends)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from audit.access_log import AccessLog, ReaderLog
from audit.heads import Notary
from identity.encryption import MemberCrypto
from identity.keyring import Keyring
from identity.principal import Principal
from identity.registrations import Registrations
from identity.signing_keys import SigningKeys
from schema.cursors import Cursors
from vaultkernel.clock import Clock
from vaultkernel.database import Database, UnitOfWork
from vaultkernel.policy import Policy
from vaultkernel.settings import Settings


class Dependencies(Protocol):
    """What resolvers use; the composition root (``membervault.services``) provides it."""

    settings: Settings
    db: Database
    policy: Policy
    crypto: MemberCrypto
    keyring: Keyring
    signing_keys: SigningKeys
    cursors: Cursors
    clock: Clock
    access_log: AccessLog
    notary: Notary
    registrations: Registrations


@dataclass
class Context:
    services: Dependencies
    principal: Principal | None
    request_id: str
    request: Any = None  # the HTTP request (a Starlette ``Request``), when there is one
    _uow: UnitOfWork | None = field(default=None, repr=False)

    @property
    def uow(self) -> UnitOfWork:
        if self._uow is None:
            self._uow = self.services.db.unit_of_work()
        return self._uow

    @property
    def reads(self) -> ReaderLog:
        """The access log bound to this request's principal: what member reads record
        through (a request without a principal reaches no member data)."""
        if self.principal is None:
            raise RuntimeError("no principal: nothing may be read")
        return self.services.access_log.reader(self.principal.actor, self.request_id)

    def close(self) -> None:
        if self._uow is not None:
            self._uow.close()
            self._uow = None
