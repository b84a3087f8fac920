"""Errors of data subject requests, with stable codes."""

from __future__ import annotations

from vaultkernel.errors import DomainError


class RequestError(DomainError):
    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(code, message, field)
