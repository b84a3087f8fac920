"""JWT access tokens (RFC 9068 profile): issued with joserfc, verified strictly."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from typing import Any

from joserfc import jwt

from identity.jwt_checks import (
    LEEWAY_SECONDS,
    TokenRejected,
    token_kid,
    unverified_claims,
    verify_jwt,
)
from identity.oidc import ExternalIssuer
from identity.principal import ROLES, Principal
from identity.signing_keys import ALGORITHM, SigningKeys

__all__ = ["TokenIssuer", "TokenRejected", "TokenVerifier"]


class TokenIssuer:
    def __init__(self, keys: SigningKeys, issuer: str, audience: str):
        self._keys = keys
        self.issuer = issuer
        self.audience = audience

    def issue(self, *, subject: str, role: str, ttl: int, client_id: str,
              scopes: Iterable[str] = ()) -> tuple[str, dict[str, Any]]:
        if role not in ROLES:
            raise ValueError(f"unknown role {role}")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "exp": now + ttl,
            "nbf": now,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
            "client_id": client_id,
            "scope": " ".join(sorted(scopes)),
            "roles": [role],
        }
        key = self._keys.active()
        # RFC 9068 section 2.1: typ "at+jwt"
        header = {"alg": ALGORITHM, "kid": key.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, key, algorithms=[ALGORITHM]), claims


class TokenVerifier:
    """Verifies our own tokens and, when configured, those of one external OIDC issuer.

    A token of ours that verified is remembered (by its exact text) until it expires: a
    client sends the same token with every request, and the ES256 check is a large part
    of a single-profile read. A remembered token is accepted again only while it has not
    expired (same leeway) and its signing key is still published, so expiry and key
    retirement take effect exactly as without the memory; everything else about a token
    is fixed by its signed text.
    """

    REMEMBERED = 4096

    def __init__(self, keys: SigningKeys, issuer: str, audience: str,
                 external: ExternalIssuer | None = None):
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self.external = external
        self._verified: dict[str, tuple[Principal, int, str]] = {}
        self._lock = threading.Lock()

    def remembered(self, token: str) -> Principal | None:
        """A remembered token's principal, from memory alone (no signature check, no
        database): only while the signing keys were loaded recently and still include its
        key. ``None`` means "call :meth:`verify`", not "rejected"."""
        remembered = self._verified.get(token)
        if remembered is None:
            return None
        principal, expires, kid = remembered
        if time.time() <= expires + LEEWAY_SECONDS and self._keys.publishes(kid):
            return principal
        return None

    def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, expires, kid = remembered
            if time.time() <= expires + LEEWAY_SECONDS and self._keys.public_key(kid) is not None:
                return principal
            with self._lock:
                self._verified.pop(token, None)
        principal, expires, kid = self._verify(token)
        if kid:
            with self._lock:
                if len(self._verified) >= self.REMEMBERED:
                    self._verified.pop(next(iter(self._verified)))
                self._verified[token] = (principal, expires, kid)
        return principal

    def _verify(self, token: str) -> tuple[Principal, int, str]:
        """Full verification; returns the principal, its expiry and signing key id (empty
        for an external issuer's token, which is never remembered)."""
        unverified = unverified_claims(token)
        if self.external is not None and unverified.get("iss") == self.external.issuer:
            return self.external.verify(token), 0, ""
        claims = verify_jwt(token, key_for=lambda kid: self._keys.public_key(kid or ""),
                            algorithms=[ALGORITHM], issuer=self.issuer,
                            audience=self.audience, token_type="at+jwt",  # noqa: S106
                            require_nbf=True)
        roles = claims.get("roles")
        if not isinstance(roles, list) or len(roles) != 1 or roles[0] not in ROLES:
            raise TokenRejected("invalid_claims")
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise TokenRejected("invalid_claims")
        principal = Principal(role=roles[0], subject=str(claims["sub"]),
                              client_id=claims.get("client_id"),
                              scopes=frozenset(scope.split()),
                              token_id=str(claims.get("jti", "")), issuer=self.issuer)
        expires = claims.get("exp")
        kid = token_kid(token)
        return principal, int(expires) if isinstance(expires, int) else 0, kid if expires else ""
