"""Errors of the request workflow, with stable codes."""

from __future__ import annotations


class RequestError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field
