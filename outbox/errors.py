"""Errors of the outbox, with stable codes; messages never hold personal values."""

from __future__ import annotations

from vaultkernel.errors import DomainError


class OutboxError(DomainError):
    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(code, message, field)
