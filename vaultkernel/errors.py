"""The base of every domain error: a stable code, a message, optionally the input field.

Messages name fields and codes, never personal values: they reach API callers and logs.
``schema/errors.py`` converts any :class:`DomainError` in one place, and every code is a
value of its ``ErrorCode`` enum (``tests/schema/test_error_codes.py`` keeps it so).
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

    def each_problem(self) -> list[DomainError]:
        """Each problem on its own (one, unless the error gathers several)."""
        return [self]
