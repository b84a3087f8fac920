"""The per-request GraphQL context: the principal, the services and one unit of work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from identity.principal import Principal
from membervault.services import Services
from vaultkernel.database import UnitOfWork


@dataclass
class Context:
    services: Services
    principal: Principal | None
    request_id: str
    request: Any = None
    response: Any = None
    _uow: UnitOfWork | None = field(default=None, repr=False)

    @property
    def uow(self) -> UnitOfWork:
        if self._uow is None:
            self._uow = UnitOfWork(self.services.db.sessions)
        return self._uow

    def close(self) -> None:
        if self._uow is not None:
            self._uow.rollback()
            self._uow.close()
            self._uow = None
