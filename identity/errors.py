"""Domain errors of identity. Messages name fields and codes, never personal values."""

from __future__ import annotations

from vaultkernel.errors import DomainError


class IdentityError(DomainError):
    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(code, message, field)


class ValidationFailed(IdentityError):
    """One or more inputs are invalid; ``problems`` holds one error per field."""

    code = "INVALID"

    def __init__(self, problems: list[IdentityError]):
        super().__init__("; ".join(f"{p.field}: {p.code}" for p in problems))
        self.problems = problems

    def each_problem(self) -> list[DomainError]:
        return list(self.problems)


class MemberNotFound(IdentityError):
    code = "NOT_FOUND"


class KeyringError(Exception):
    """The key-encryption keys are missing, invalid or refused."""
