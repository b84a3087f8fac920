"""Errors of the outbox, with stable codes; messages never hold personal values."""

from __future__ import annotations


class OutboxError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field
