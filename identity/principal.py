"""Who is calling: the authenticated principal carried by a verified access token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

ROLES = ("member", "client", "officer", "admin")
PURPOSE_SCOPE_PREFIX = "purpose:"


@dataclass(frozen=True)
class Principal:
    role: str
    subject: str
    client_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_id: str = ""
    issuer: str = ""

    @property
    def member_id(self) -> uuid.UUID:
        if self.role != "member":
            raise PermissionError("not a member principal")
        return uuid.UUID(self.subject)

    @property
    def purposes(self) -> frozenset[str]:
        n = len(PURPOSE_SCOPE_PREFIX)
        return frozenset(s[n:] for s in self.scopes if s.startswith(PURPOSE_SCOPE_PREFIX))

    @property
    def actor(self) -> str:
        """How the audit trail names this principal (internal ids only)."""
        return f"{self.role}:{self.subject}"


def purpose_scope(purpose: str) -> str:
    return PURPOSE_SCOPE_PREFIX + purpose
