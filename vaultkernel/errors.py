"""The base of every domain error: a stable code, a message, optionally the input field.

Messages name fields and codes, never personal values: they reach API callers and logs.
``schema`` converts any :class:`DomainError` in one place.
"""

from __future__ import annotations


class DomainError(Exception):
    """An expected refusal of a use case, with a machine-readable ``code``.

    >>> error = DomainError("NOT_FOUND", "there is no such request", field="requestId")
    >>> (error.code, error.field)
    ('NOT_FOUND', 'requestId')
    """

    code: str = "DOMAIN_ERROR"

    def __init__(self, code: str | None, message: str, field: str | None = None):
        super().__init__(message)
        if code:
            self.code = code
        self.message = message
        self.field = field
